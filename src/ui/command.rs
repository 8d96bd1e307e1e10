//! The k9s-style `:` command line: parsing and Tab completion.

use super::views::View;

/// The commands that are not a view's name, with their help lines (`:q` and `:quit` share one).
const OTHERS: [(&str, &str, &str); 4] = [
    ("run", ":run", "run the what-if scenario (ctrl-r)"),
    ("theme", ":theme NAME", "dark, light, colorblind or yours"),
    ("q", ":q / :quit", "quit"),
    ("quit", "", ""),
];

/// Every command: each view's name, then the others.
pub(crate) fn names() -> impl Iterator<Item = &'static str> {
    View::ALL.iter().map(|v| v.name()).chain(OTHERS.iter().map(|o| o.0))
}

/// What each command does, for help.
pub(crate) fn help() -> Vec<(String, &'static str)> {
    View::ALL
        .iter()
        .map(|v| (format!(":{}", v.name()), v.about()))
        .chain(OTHERS.iter().filter(|o| !o.1.is_empty()).map(|o| (o.1.to_string(), o.2)))
        .collect()
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Command {
    View(View),
    Theme(String),
    /// Run the What-if scenario.
    Run,
    Quit,
}

/// Parses a command line (without the `:`). A unique prefix of a command is that command.
pub(crate) fn parse(line: &str) -> Result<Command, String> {
    let line = line.trim();
    let (word, arg) = match line.split_once(char::is_whitespace) {
        Some((w, a)) => (w, a.trim()),
        None => (line, ""),
    };
    if word.is_empty() {
        return Err("empty command".into());
    }
    let name = if names().any(|c| c == word) {
        word
    } else {
        let found: Vec<&str> = names().filter(|c| c.starts_with(word)).collect();
        match found.as_slice() {
            [one] => *one,
            [] => return Err(format!("unknown command :{}", crate::text::escape(word))),
            many => return Err(format!("ambiguous :{word}: {}", many.join(", "))),
        }
    };
    match name {
        "q" | "quit" => Ok(Command::Quit),
        "run" => Ok(Command::Run),
        "theme" if arg.is_empty() => Err("usage: :theme NAME".into()),
        "theme" => Ok(Command::Theme(arg.to_string())),
        v => View::from_name(v).map(Command::View).ok_or_else(|| format!("unknown command :{v}")),
    }
}

/// The result of pressing Tab: the new line and, when it is still ambiguous, the choices.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Completion {
    pub line: String,
    pub candidates: Vec<String>,
}

/// Completes the command word, or the theme name after `theme `.
pub(crate) fn complete(line: &str, themes: &[String]) -> Completion {
    if let Some(arg) = line.strip_prefix("theme ") {
        let arg = arg.trim_start();
        let found: Vec<String> = themes.iter().filter(|t| t.starts_with(arg)).cloned().collect();
        let done = common_prefix(&found).unwrap_or_else(|| arg.to_string());
        return Completion {
            line: format!("theme {done}"),
            candidates: if found.len() > 1 { found } else { Vec::new() },
        };
    }
    let found: Vec<String> =
        names().filter(|c| c.starts_with(line.trim()) && *c != "q").map(String::from).collect();
    match found.as_slice() {
        [one] if one == "theme" => Completion { line: "theme ".into(), candidates: themes.to_vec() },
        [one] => Completion { line: one.clone(), candidates: Vec::new() },
        _ => {
            Completion { line: common_prefix(&found).unwrap_or_else(|| line.to_string()), candidates: found }
        }
    }
}

fn common_prefix(v: &[String]) -> Option<String> {
    let first = v.first()?;
    let mut n = first.len();
    for s in &v[1..] {
        n = n.min(first.bytes().zip(s.bytes()).take_while(|(a, b)| a == b).count());
    }
    Some(first[..n].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn themes() -> Vec<String> {
        vec!["colorblind".into(), "dark".into(), "light".into()]
    }

    #[test]
    fn help_describes_every_command() {
        for c in names() {
            assert!(
                help().iter().any(|(k, _)| k
                    .trim_start_matches(':')
                    .split([' ', '/'])
                    .any(|w| w.trim_start_matches(':') == c)),
                ":{c} has no help line"
            );
        }
    }

    #[test]
    fn parses_commands_and_prefixes() {
        assert_eq!(parse("heatmap"), Ok(Command::View(View::Heatmap)));
        assert_eq!(parse(" work "), Ok(Command::View(View::Workloads)));
        assert_eq!(parse("q"), Ok(Command::Quit));
        assert_eq!(parse("theme light"), Ok(Command::Theme("light".into())));
        assert!(parse("theme").unwrap_err().contains("usage"));
        assert!(parse("nodes").unwrap_err().contains("unknown command :nodes"));
        assert!(parse("h").unwrap_err().contains("ambiguous"));
    }

    #[test]
    fn tab_completes_commands_and_theme_names() {
        assert_eq!(complete("hea", &themes()).line, "heatmap");
        let c = complete("h", &themes());
        assert_eq!(c.line, "he", "completes to the common prefix");
        assert_eq!(c.candidates, vec!["heatmap", "help"]);
        assert_eq!(complete("he", &themes()).line, "he");
        assert_eq!(complete("the", &themes()).line, "theme ");
        assert_eq!(complete("theme co", &themes()).line, "theme colorblind");
        assert_eq!(complete("s", &themes()).line, "servers");
    }
}
