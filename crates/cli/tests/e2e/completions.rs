//! `seedship completions`: the generated scripts are loaded by the real shells and complete
//! commands and options of the binary that wrote them.

use std::process::Command;

use crate::server_support::SEEDSHIP;

fn script(shell: &str) -> String {
    let out = Command::new(SEEDSHIP)
        .args(["completions", shell])
        .output()
        .expect("run seedship completions");
    assert!(
        out.status.success(),
        "completions {shell}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 script")
}

/// What bash's completion function offers for the words typed so far (the last one partial).
fn bash_completes(script_path: &std::path::Path, words: &[&str]) -> Vec<String> {
    let words_quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let program = format!(
        "source '{}'\nCOMP_WORDS=({})\nCOMP_CWORD={}\nCOMP_LINE='{}'\nCOMP_POINT=${{#COMP_LINE}}\n_seedship seedship '{}' '{}'\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
        script_path.display(),
        words_quoted.join(" "),
        words.len() - 1,
        words.join(" "),
        words[words.len() - 1],
        words[words.len() - 2],
    );
    let out = Command::new("bash")
        .args(["--norc", "--noprofile", "-c", &program])
        .output()
        .expect("run bash");
    assert!(
        out.status.success(),
        "bash: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|line| line.trim().to_owned())
        .filter(|line| !line.is_empty())
        .collect()
}

#[test]
fn bash_completion_offers_the_commands_and_options_of_the_binary() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("seedship.bash");
    std::fs::write(&path, script("bash")).expect("write script");

    let commands = bash_completes(&path, &["seedship", "jo"]);
    assert_eq!(commands, ["job"], "`seedship jo<TAB>`");
    let subcommands = bash_completes(&path, &["seedship", "job", ""]);
    for wanted in ["create", "show", "list", "cancel"] {
        assert!(
            subcommands.iter().any(|c| c == wanted),
            "`seedship job <TAB>` lacks {wanted}: {subcommands:?}"
        );
    }
    let options = bash_completes(&path, &["seedship", "forget", "--keep-d"]);
    assert_eq!(options, ["--keep-daily"], "`seedship forget --keep-d<TAB>`");
}

#[test]
fn zsh_and_fish_scripts_name_the_commands_and_an_unknown_shell_is_a_usage_error() {
    let zsh = script("zsh");
    assert!(
        zsh.starts_with("#compdef seedship"),
        "zsh script header: {:?}",
        &zsh[..40.min(zsh.len())]
    );
    let fish = script("fish");
    assert!(
        fish.lines()
            .any(|line| line.starts_with("complete -c seedship") && line.contains("-a \"job\"")),
        "fish script completes `job`"
    );
    let out = Command::new(SEEDSHIP)
        .args(["completions", "tcsh"])
        .output()
        .expect("run seedship completions tcsh");
    assert_eq!(out.status.code(), Some(2), "an unknown shell is a usage error");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("tcsh"),
        "the error names the shell"
    );
}
