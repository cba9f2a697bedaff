//! Shell completions and the man page, generated from the clap definition itself, so they can
//! never disagree with `--help`.

use std::io::Write;

use clap::CommandFactory;

use crate::cli::Cli;

/// Writes what `--completions SHELL` or `--man` asks for.
pub fn generate(cli: &Cli, out: &mut dyn Write) -> std::io::Result<()> {
    let mut command = Cli::command();
    if let Some(shell) = cli.completions {
        clap_complete::generate(shell, &mut command, "copy-image", out);
        return out.flush();
    }
    clap_mangen::Man::new(command).render(out)?;
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn output(args: &[&str]) -> String {
        let cli =
            Cli::try_parse_from(std::iter::once("copy-image").chain(args.iter().copied())).unwrap();
        let mut out = Vec::new();
        generate(&cli, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn completions_for_every_shell_name_the_flags() {
        for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
            let script = output(&["--completions", shell]);
            assert!(script.contains("copy-image"), "{shell}");
            for flag in ["destination-region", "image-id", "wait", "if-exists"] {
                assert!(script.contains(flag), "{shell} completes --{flag}");
            }
        }
        assert!(output(&["--completions", "bash"]).contains("complete -F"));
        assert!(output(&["--completions", "zsh"]).starts_with("#compdef copy-image"));
    }

    #[test]
    fn man_page_is_roff_with_every_section() {
        let page = output(&["--man"]);
        assert!(
            page.starts_with(".ie \\n(.g .ds Aq"),
            "roff preamble: {}",
            &page[..40]
        );
        assert!(page.contains(".TH copy-image 1"), "{page}");
        for section in [
            ".SH NAME",
            ".SH SYNOPSIS",
            ".SH DESCRIPTION",
            ".SH OPTIONS",
            "Exit codes",
        ] {
            assert!(page.contains(section), "{section}");
        }
        assert!(
            page.contains("\\-\\-destination\\-region"),
            "flags are escaped roff"
        );
    }

    #[test]
    fn they_need_no_other_argument_and_take_none() {
        assert!(Cli::try_parse_from(["copy-image", "--man", "--image-id", "m-1"]).is_err());
        assert!(Cli::try_parse_from(["copy-image", "--completions", "bash", "--wait"]).is_err());
    }
}
