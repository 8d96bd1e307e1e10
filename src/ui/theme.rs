//! Themes: colours and heatmap palettes from TOML. Three are built in (`themes/*.toml`,
//! embedded); a file `themes/NAME.toml` in the config dir adds a theme or overrides a
//! built-in one, and may set only the keys it changes (the rest come from `dark`).

use super::config::toml_error;
use ratatui::style::Color;
use serde::{Deserialize, Deserializer};
use std::path::Path;
use std::str::FromStr;

pub(crate) const BUILTIN: [(&str, &str); 3] = [
    ("dark", include_str!("../../themes/dark.toml")),
    ("light", include_str!("../../themes/light.toml")),
    ("colorblind", include_str!("../../themes/colorblind.toml")),
];

#[derive(Debug, Clone, PartialEq)]
pub struct Theme {
    pub name: String,
    /// Heatmap cells carry intensity glyphs (░▒▓█) as well as colour.
    pub glyphs: bool,
    pub fg: Color,
    pub dim: Color,
    pub accent: Color,
    pub title: Color,
    pub border: Color,
    pub header_bg: Color,
    pub selected_fg: Color,
    pub selected_bg: Color,
    pub cursor: Color,
    pub ok: Color,
    pub warn: Color,
    pub bad: Color,
    /// Low → high, for levels (utilisation, latency).
    pub sequential: Vec<Color>,
    /// Under-used → even → hot, for deviations; odd length, the middle is "even".
    pub diverging: Vec<Color>,
    pub no_data: Color,
}

/// A colour as TOML spells it: a name (`red`, `reset`) or `#rrggbb`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct ColorSpec(Color);

impl<'de> Deserialize<'de> for ColorSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Color::from_str(&s)
            .map(ColorSpec)
            .map_err(|_| serde::de::Error::custom(format!("invalid colour {s:?} (use a name or #rrggbb)")))
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ThemeFile {
    name: Option<String>,
    glyphs: Option<bool>,
    #[serde(default)]
    colors: ColorsFile,
    #[serde(default)]
    heatmap: HeatmapFile,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ColorsFile {
    fg: Option<ColorSpec>,
    dim: Option<ColorSpec>,
    accent: Option<ColorSpec>,
    title: Option<ColorSpec>,
    border: Option<ColorSpec>,
    header_bg: Option<ColorSpec>,
    selected_fg: Option<ColorSpec>,
    selected_bg: Option<ColorSpec>,
    cursor: Option<ColorSpec>,
    ok: Option<ColorSpec>,
    warn: Option<ColorSpec>,
    bad: Option<ColorSpec>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct HeatmapFile {
    sequential: Option<Vec<ColorSpec>>,
    diverging: Option<Vec<ColorSpec>>,
    no_data: Option<ColorSpec>,
}

impl Default for Theme {
    fn default() -> Self {
        Theme::builtin("dark").expect("the embedded dark theme parses")
    }
}

impl Theme {
    /// A built-in theme by name.
    pub(crate) fn builtin(name: &str) -> Option<Theme> {
        let (_, src) = BUILTIN.iter().find(|(n, _)| *n == name)?;
        let base = Theme::bare();
        Some(base.overlay(toml::from_str(src).ok()?, name))
    }

    /// The fallback under the embedded dark theme: plain terminal colours.
    fn bare() -> Theme {
        Theme {
            name: "bare".into(),
            glyphs: false,
            fg: Color::Reset,
            dim: Color::DarkGray,
            accent: Color::Cyan,
            title: Color::Yellow,
            border: Color::DarkGray,
            header_bg: Color::Reset,
            selected_fg: Color::Black,
            selected_bg: Color::Cyan,
            cursor: Color::White,
            ok: Color::Green,
            warn: Color::Yellow,
            bad: Color::Red,
            sequential: vec![Color::Blue, Color::Cyan, Color::Green, Color::Yellow, Color::Red],
            diverging: vec![Color::Blue, Color::Cyan, Color::Gray, Color::Yellow, Color::Red],
            no_data: Color::DarkGray,
        }
    }

    /// Parses a theme file over `dark`; errors name the file, line and key.
    pub fn parse(path: &Path, src: &str) -> Result<Theme, String> {
        let file: ThemeFile = toml::from_str(src).map_err(|e| toml_error(path, src, &e))?;
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("custom");
        let t = Theme::default().overlay(file, stem);
        if t.sequential.len() < 2 || t.diverging.len() < 3 {
            return Err(format!(
                "{}: key `heatmap.sequential` needs ≥ 2 colours and `heatmap.diverging` ≥ 3",
                path.display()
            ));
        }
        Ok(t)
    }

    fn overlay(mut self, f: ThemeFile, default_name: &str) -> Theme {
        self.name = f.name.unwrap_or_else(|| default_name.to_string());
        self.glyphs = f.glyphs.unwrap_or(self.glyphs);
        let c = f.colors;
        for (slot, v) in [
            (&mut self.fg, c.fg),
            (&mut self.dim, c.dim),
            (&mut self.accent, c.accent),
            (&mut self.title, c.title),
            (&mut self.border, c.border),
            (&mut self.header_bg, c.header_bg),
            (&mut self.selected_fg, c.selected_fg),
            (&mut self.selected_bg, c.selected_bg),
            (&mut self.cursor, c.cursor),
            (&mut self.ok, c.ok),
            (&mut self.warn, c.warn),
            (&mut self.bad, c.bad),
        ] {
            if let Some(ColorSpec(col)) = v {
                *slot = col;
            }
        }
        if let Some(v) = f.heatmap.sequential {
            self.sequential = v.into_iter().map(|c| c.0).collect();
        }
        if let Some(v) = f.heatmap.diverging {
            self.diverging = v.into_iter().map(|c| c.0).collect();
        }
        if let Some(ColorSpec(col)) = f.heatmap.no_data {
            self.no_data = col;
        }
        self
    }

    /// Resolves a theme name: `themes/NAME.toml` in the config dir first, then the built-ins.
    /// Any problem yields the default theme and a one-line message.
    pub fn load(name: &str, config_dir: Option<&Path>) -> (Theme, Option<String>) {
        if let Some(path) = config_dir.map(|d| d.join("themes").join(format!("{name}.toml"))) {
            match std::fs::read_to_string(&path) {
                Ok(src) => {
                    return match Theme::parse(&path, &src) {
                        Ok(t) => (t, None),
                        Err(e) => (Theme::default(), Some(format!("{e}; using the dark theme"))),
                    };
                }
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return (
                        Theme::default(),
                        Some(format!("{}: {e}; using the dark theme", path.display())),
                    );
                }
                Err(_) => {}
            }
        }
        match Theme::builtin(name) {
            Some(t) => (t, None),
            None => (
                Theme::default(),
                Some(format!(
                    "unknown theme {:?} (have: {}); using the dark theme",
                    crate::text::escape(name),
                    available(config_dir).join(", ")
                )),
            ),
        }
    }

    /// Maps `t` in [0, 1] onto the sequential palette.
    pub(crate) fn seq(&self, t: f64) -> Color {
        pick(&self.sequential, t)
    }

    /// The text colour of a utilisation: warm from 75 %, hot from 90 %.
    pub(crate) fn utilisation(&self, u: f64) -> Color {
        if u >= 0.9 {
            self.bad
        } else if u >= 0.75 {
            self.warn
        } else {
            self.fg
        }
    }

    /// Maps `t` in [-1, 1] onto the diverging palette (0 is its middle).
    pub(crate) fn div(&self, t: f64) -> Color {
        pick(&self.diverging, (t + 1.0) / 2.0)
    }
}

fn pick(p: &[Color], t: f64) -> Color {
    if p.is_empty() {
        return Color::Reset;
    }
    let t = if t.is_finite() { t.clamp(0.0, 1.0) } else { 0.0 };
    p[((t * p.len() as f64) as usize).min(p.len() - 1)]
}

/// Theme names: built-ins and user files, sorted, without duplicates.
pub(crate) fn available(config_dir: Option<&Path>) -> Vec<String> {
    let mut v: Vec<String> = BUILTIN.iter().map(|(n, _)| n.to_string()).collect();
    if let Some(Ok(rd)) = config_dir.map(|d| std::fs::read_dir(d.join("themes"))) {
        for e in rd.flatten() {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "toml")
                && let Some(s) = p.file_stem().and_then(|s| s.to_str())
            {
                v.push(s.to_string());
            }
        }
    }
    v.sort();
    v.dedup();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_parse_and_differ() {
        let names: Vec<Theme> = BUILTIN.iter().map(|(n, _)| Theme::builtin(n).unwrap()).collect();
        assert_eq!(names[0].name, "dark");
        assert!(names[2].glyphs, "the colour-blind theme carries intensity in glyphs");
        assert_ne!(names[0].sequential, names[1].sequential);
        assert!(names.iter().all(|t| t.diverging.len() % 2 == 1));
    }

    #[test]
    fn bad_colour_names_file_line_and_key() {
        let src = "name = \"mine\"\n[colors]\nfg = \"#12\"\n";
        let e = Theme::parse(Path::new("/cfg/themes/mine.toml"), src).unwrap_err();
        assert!(e.starts_with("/cfg/themes/mine.toml: line 3, key `colors.fg`:"), "{e}");
        assert!(e.contains("invalid colour"), "{e}");
    }

    #[test]
    fn user_theme_overrides_builtin_and_keeps_other_keys() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("themes")).unwrap();
        std::fs::write(dir.path().join("themes/light.toml"), "[colors]\nbad = \"#ff00ff\"\n").unwrap();
        let (t, err) = Theme::load("light", Some(dir.path()));
        assert_eq!(err, None);
        assert_eq!(t.bad, Color::Rgb(255, 0, 255));
        assert_eq!(t.fg, Theme::default().fg);
        std::fs::write(dir.path().join("themes/broken.toml"), "[heatmap]\nsequential = [1, 2]\n").unwrap();
        let (t, err) = Theme::load("broken", Some(dir.path()));
        assert_eq!(t.name, "dark");
        assert!(err.unwrap().contains("line 2, key `heatmap.sequential`"));
        assert!(available(Some(dir.path())).contains(&"broken".to_string()));
    }

    #[test]
    fn unknown_theme_falls_back_with_message() {
        let (t, err) = Theme::load("neon", None);
        assert_eq!(t.name, "dark");
        assert!(err.unwrap().contains("unknown theme \"neon\""));
    }
}
