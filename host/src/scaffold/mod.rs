//! `openqq new NAME --lang …`: writes a standalone bot project that builds
//! with its language's own toolchain, out of files compiled into this
//! binary (`embedded.rs`), so it needs no checkout of this repository.
//!
//! One file per language holds that language's templates (`rust.rs`,
//! `python.rs`, `js.rs`, `c.rs`, `zig.rs`); `names.rs` says which names each
//! language refuses.

mod c;
mod embedded;
mod js;
mod names;
mod python;
mod rust;
mod zig;

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::{Context, bail};

/// The languages `openqq new` writes projects in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Rust,
    Python,
    Js,
    C,
    Zig,
}

impl Lang {
    pub const ALL: [Lang; 5] = [Lang::Rust, Lang::Python, Lang::Js, Lang::C, Lang::Zig];

    pub fn name(self) -> &'static str {
        match self {
            Lang::Rust => "rust",
            Lang::Python => "python",
            Lang::Js => "js",
            Lang::C => "c",
            Lang::Zig => "zig",
        }
    }
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Lang {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Lang::ALL
            .into_iter()
            .find(|l| l.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                let names: Vec<&str> = Lang::ALL.iter().map(|l| l.name()).collect();
                format!("no template for {s:?} (have: {})", names.join(", "))
            })
    }
}

/// One file of a new project: its path inside the project, its text.
pub struct File {
    pub path: PathBuf,
    pub text: String,
}

impl File {
    fn new(path: impl Into<PathBuf>, text: impl Into<String>) -> File {
        File {
            path: path.into(),
            text: text.into(),
        }
    }
}

/// Every README's way to try the bot once it runs.
const TALK_TO_IT: &str = r#"Then chat with it in the gateway's console, http://127.0.0.1:5000/#/chat
(pick a friend, say `hello`), or as the simulated friend 123456 with curl:

```sh
curl -s -d '{"type":"message","sender_qq":123456,"content":"hello"}' http://127.0.0.1:5000/sim/receive
curl -s 'http://127.0.0.1:5000/sim/sent?after=0'    # what the account sent
```
"#;

/// The world's files, at `wit/0.2.0/…` in every project.
fn wit_files() -> impl Iterator<Item = File> {
    embedded::WIT
        .iter()
        .map(|(path, text)| File::new(*path, *text))
}

pub use names::check_name;

/// The name of the component a project builds, and so of the bot in the
/// gateway: the project's name with `-` as `_`, as cargo names it.
fn file_name(name: &str) -> String {
    name.replace('-', "_")
}

/// The files of a new project named `name` in `lang`.
pub fn files(name: &str, lang: Lang) -> anyhow::Result<Vec<File>> {
    check_name(name, lang)?;
    Ok(match lang {
        Lang::Rust => rust::files(name),
        Lang::Python => python::files(name),
        Lang::Js => js::files(name),
        Lang::C => c::files(name),
        Lang::Zig => zig::files(name),
    })
}

/// Writes a new project into `dir`, which must not exist or be empty.
/// Returns the files written, relative to `dir`.
pub fn create(dir: &Path, name: &str, lang: Lang) -> anyhow::Result<Vec<PathBuf>> {
    let files = files(name, lang)?;
    if dir.exists() {
        let mut entries =
            std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))?;
        if entries.next().is_some() {
            bail!("{} exists and is not empty", dir.display());
        }
    }
    let mut written = Vec::with_capacity(files.len());
    for f in files {
        let to = dir.join(&f.path);
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        std::fs::write(&to, f.text).with_context(|| format!("cannot write {}", to.display()))?;
        if to.extension().is_some_and(|x| x == "sh") {
            make_executable(&to)?;
        }
        written.push(f.path);
    }
    Ok(written)
}

/// Build and test scripts run as `./build.sh` too.
#[cfg(unix)]
fn make_executable(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
        .with_context(|| format!("cannot make {} executable", path.display()))
}

#[cfg(not(unix))]
fn make_executable(_path: &Path) -> anyhow::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn languages_parse_by_name_and_an_unknown_one_lists_the_known() {
        assert_eq!("rust".parse::<Lang>(), Ok(Lang::Rust));
        assert_eq!("Rust".parse::<Lang>(), Ok(Lang::Rust));
        assert_eq!("python".parse::<Lang>(), Ok(Lang::Python));
        assert_eq!("js".parse::<Lang>(), Ok(Lang::Js));
        assert_eq!("C".parse::<Lang>(), Ok(Lang::C));
        assert_eq!("zig".parse::<Lang>(), Ok(Lang::Zig));
        let err = "cobol".parse::<Lang>().unwrap_err();
        assert!(err.contains("rust"), "{err}");
    }

    #[test]
    fn a_project_is_written_only_into_an_empty_or_new_directory() {
        let dir = std::env::temp_dir().join(format!("openqq-new-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let written = create(&dir, "hello", Lang::Rust).expect("a new directory");
        assert!(written.iter().any(|p| p == Path::new("Cargo.toml")));
        assert!(dir.join("wit/0.2.0/bot.wit").is_file());
        let again = create(&dir, "hello", Lang::Rust).unwrap_err().to_string();
        assert!(again.contains("not empty"), "{again}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
