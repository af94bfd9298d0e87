//! `seedship diskprep` on a pseudo-terminal, as a person runs it: no answer flags; the test
//! reads each prompt and types the answer (credentials, which job, job details, a drive,
//! another drive when the first is full, "yes" to erasing someone's file on the first drive
//! after seeing it, "yes"); then `--ship` the same way.

use crate::offline_support::*;
use crate::pty_support::Terminal;
use crate::server_support::*;

#[test]
fn diskprep_asks_on_a_terminal() {
    let (_tempdir, flow) = Flow::in_tempdir(16 * MIB);
    flow.backup_ok();
    // A second staged job in the same location, so diskprep asks which one.
    let other = flow.staging.join("other-job");
    std::fs::create_dir_all(&other).expect("mkdir");
    let job_toml = std::fs::read_to_string(flow.job_dir().join("job.toml")).expect("job.toml");
    std::fs::write(other.join("job.toml"), job_toml.replace(JOB, "other-job")).expect("write");

    let capacity = flow.spanning_capacity().to_string();
    let (drive1, drive2) = (flow.drive(1), flow.drive(2));
    // Drive 1 holds someone's file and no drive marker: the operator is shown what would be
    // erased and confirms it on the terminal (no flag needed there).
    std::fs::write(drive1.join("notes.txt"), b"old notes\n").expect("write");
    let mut term = Terminal::spawn(command(&[
        "diskprep",
        "--not-a-mount-point",
        "--staging",
        path(&flow.staging),
        "--capacity",
        &capacity,
    ]));
    term.expect("Which one?");
    term.answer(JOB);
    term.expect("credentials file:");
    term.answer(path(&flow.account));
    term.expect("Job details file");
    term.answer(path(&flow.details()));
    term.expect("Drive directory to erase and use:");
    term.answer(path(&drive1));
    term.expect("Another drive directory:");
    term.answer(path(&drive2));
    term.expect(&format!(
        "Erase 1 file(s), 10 bytes, in {}, which is no seedship drive",
        path(&drive1)
    ));
    term.expect("Type 'yes' to continue:");
    term.answer("yes");
    term.expect("Erase everything in");
    term.expect("Type 'yes' to continue:");
    term.answer("yes");
    term.expect("ship to:");
    term.expect("next: check each drive with `seedship drive verify");
    let (code, seen) = term.finish();
    assert_eq!(code, Some(0), "{seen}");
    assert!(seen.contains("Creating"), "{seen}");
    let status = json_ok(&flow.owner_diskprep(&["--job", JOB, "--status"]));
    assert_eq!(status[0]["summary"]["state"], "Creating");
    assert_eq!(status[0]["summary"]["drives"].as_array().map(Vec::len), Some(2));

    // Not confirming the shipment records nothing.
    let ship_args = [
        "diskprep",
        "--staging",
        path(&flow.staging),
        "--job",
        JOB,
        "--ship",
    ];
    let answers = |term: &mut Terminal| {
        term.expect("credentials file:");
        term.answer(path(&flow.account));
        term.expect("Carrier:");
        term.answer("DHL");
        term.expect("Tracking number:");
        term.answer("TRACK-PTY-1");
        term.expect("Ship date (YYYY-MM-DD):");
        term.answer("2026-11-30");
        term.expect("review (nothing recorded): DHL TRACK-PTY-1");
        term.expect("Type 'yes' to continue:");
    };
    let mut term = Terminal::spawn(command(&ship_args));
    answers(&mut term);
    term.answer("no");
    let (code, seen) = term.finish();
    assert_eq!(code, Some(1), "{seen}");
    assert!(!flow.job_dir().join("shipping.json").exists());

    let mut term = Terminal::spawn(command(&ship_args));
    answers(&mut term);
    term.answer("yes");
    term.expect("Shipping");
    let (code, seen) = term.finish();
    assert_eq!(code, Some(0), "{seen}");
    let shipping: serde_json::Value =
        serde_json::from_slice(&std::fs::read(flow.job_dir().join("shipping.json")).expect("shipping.json"))
            .expect("JSON");
    assert_eq!(shipping["shipping"]["tracking_number"], "TRACK-PTY-1");
    assert_eq!(shipping["shipping"]["drive_count"], 2);
}

/// The lines a terminal shows for `raw` output: `\r` returns to the line's start, `ESC [ 2 K`
/// clears the line, other escape sequences (colours, cursor moves) are dropped.
fn shown_lines(raw: &str) -> Vec<String> {
    raw.split('\n')
        .map(|line| {
            let mut shown: Vec<char> = Vec::new();
            let mut cursor = 0;
            let mut chars = line.chars().peekable();
            while let Some(c) = chars.next() {
                match c {
                    '\r' => cursor = 0,
                    '\u{1b}' if chars.peek() == Some(&'[') => {
                        chars.next();
                        let mut sequence = String::new();
                        for c in chars.by_ref() {
                            sequence.push(c);
                            if c.is_ascii_alphabetic() {
                                break;
                            }
                        }
                        if sequence == "2K" {
                            shown.clear();
                        }
                    }
                    c => {
                        if cursor < shown.len() {
                            shown[cursor] = c;
                        } else {
                            shown.push(c);
                        }
                        cursor += 1;
                    }
                }
            }
            shown.into_iter().collect::<String>().trim_end().to_owned()
        })
        .collect()
}

#[test]
fn progress_bars_are_cleared_before_results_are_printed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dir = dir.path();
    let source = dir.join("source");
    seedship_treecmp::SampleTree::build(&source, 64 * MIB).expect("sample tree");
    let repo = dir.join("repo");
    let term = Terminal::spawn(command(&["backup", "--repo", path(&repo), path(&source)]));
    let (code, seen) = term.finish();
    assert_eq!(code, Some(0), "{seen}");
    assert!(seen.contains("ETA"), "no progress bar was drawn: {seen:?}");
    let lines = shown_lines(&seen);
    let result = lines
        .iter()
        .find(|line| line.contains(" saved"))
        .unwrap_or_else(|| panic!("no result line in {lines:?}"));
    assert!(
        result.starts_with("snapshot "),
        "the result shares its line with a progress bar: {result:?}"
    );
    assert!(
        lines.iter().all(|line| !line.contains("ETA")),
        "a progress bar was left on the terminal: {lines:?}"
    );
}
