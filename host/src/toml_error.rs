//! TOML errors as a person fixing the file wants them: the line, the
//! message, and the key it is about (for the config and the sim's world).

/// ``line 3: invalid type: string "x", expected u64 in `backend.timeout_secs` ``.
/// `message()` alone does not say which key; `Display` with the input
/// prints a multi-line excerpt.
pub fn describe(text: &str, e: &toml::de::Error) -> String {
    let line = e.span().map_or(0, |s| {
        text.get(..s.start)
            .map_or(0, |t| t.matches('\n').count() + 1)
    });
    let mut keyed = e.clone();
    // Without the input, Display is the message and the key path.
    keyed.set_input(None);
    format!(
        "line {line}: {}",
        keyed.to_string().trim_end().replace('\n', " ")
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_the_line_and_the_key() {
        let text = "a = 1\n[backend]\ntimeout_secs = \"x\"\n";
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct B {
            timeout_secs: u64,
        }
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct F {
            a: u64,
            backend: B,
        }
        let e = toml::from_str::<F>(text).unwrap_err();
        let d = super::describe(text, &e);
        assert!(d.starts_with("line 3: "), "{d}");
        assert!(d.contains("backend.timeout_secs"), "{d}");
    }
}
