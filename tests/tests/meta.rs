//! Checks on the test suite itself.

/// Every behaviour test starts with a watchdog, so that no test can hang:
/// a hang becomes a failure that names the test.
#[test]
fn every_test_starts_with_a_watchdog() {
    let _watchdog = loop_tests::watchdog();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    // The recipes' tests (crates/loop-recipes) are held to the same rule.
    let recipes = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates/loop-recipes/tests");
    let mut missing = Vec::new();
    let mut tests = 0;
    let entries = std::fs::read_dir(&dir).unwrap().chain(std::fs::read_dir(&recipes).unwrap());
    for entry in entries {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            if line.trim() != "#[test]" {
                continue;
            }
            tests += 1;
            let body = lines[i + 1..].iter().position(|l| l.trim_start().starts_with("fn ")).map(|k| i + 1 + k + 1);
            let first = body.and_then(|b| lines.get(b)).map_or("", |l| l.trim());
            if !first.starts_with("let _watchdog = loop_tests::watchdog") {
                missing.push(format!("{}:{}", path.display(), i + 1));
            }
        }
    }
    assert!(tests > 100, "found only {tests} tests under {}", dir.display());
    assert!(missing.is_empty(), "tests without a watchdog as their first statement: {missing:#?}");
}
