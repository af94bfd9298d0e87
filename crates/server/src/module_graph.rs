//! The crate's modules import each other without a cycle: each `src/<module>.rs` is read, the
//! `crate::<module>` paths it names (in `use` lines or inline, braces included; comments
//! aside) are its edges, and the graph must have no cycle. `lib.rs`, which only declares the
//! modules, is left out.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The modules a source text names as `crate::<module>`.
fn imports(text: &str) -> BTreeSet<String> {
    let code: String = text
        .lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut found = BTreeSet::new();
    let mut rest = code.as_str();
    while let Some(at) = rest.find("crate::") {
        let before = rest[..at].chars().next_back();
        rest = &rest[at + "crate::".len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            // `seedship_crate::` or the like: not this crate
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            // `crate::{a, b::c, d::{e, f}}`: the first name of each top-level item
            let mut depth = 0usize;
            let mut item_start = true;
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => {
                        rest = &group[i..];
                        break;
                    }
                    '}' => depth -= 1,
                    ',' if depth == 0 => item_start = true,
                    c if item_start && (c.is_alphanumeric() || c == '_') => {
                        found.insert(leading_name(&group[i..]));
                        item_start = false;
                    }
                    _ => {}
                }
            }
        } else {
            let name = leading_name(rest);
            if !name.is_empty() {
                found.insert(name);
            }
        }
    }
    found
}

fn leading_name(text: &str) -> String {
    text.chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect()
}

/// Module name to the modules it imports, for every `src/*.rs` but `lib.rs`.
fn graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut graph = BTreeMap::new();
    for entry in std::fs::read_dir(src).expect("read src") {
        let path = entry.expect("entry").path();
        let Some(module) = path.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        if path.extension().is_none_or(|e| e != "rs") || module == "lib" || module == "module_graph" {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("read module");
        let mut edges = imports(&text);
        edges.remove(module);
        graph.insert(module.to_owned(), edges);
    }
    graph
}

/// A cycle of `graph`, as the modules along it (the first repeated at the end), if it has one.
fn cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        module: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        done: &mut BTreeSet<String>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|m| m == module) {
            let mut found = path[at..].to_vec();
            found.push(module.to_owned());
            return Some(found);
        }
        if done.contains(module) {
            return None;
        }
        path.push(module.to_owned());
        for next in graph.get(module).into_iter().flatten() {
            if let Some(found) = visit(next, graph, done, path) {
                return Some(found);
            }
        }
        path.pop();
        done.insert(module.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|module| visit(module, graph, &mut done, &mut Vec::new()))
}

#[test]
fn imports_are_read_from_use_lines_groups_and_inline_paths() {
    let text = "use crate::a::B;\nuse crate::{c, d::{E, F}, g::H};\n// crate::comment\n\
                fn f() { crate::i::j(); seedship_crate::k(); }\n";
    let names: Vec<String> = imports(text).into_iter().collect();
    assert_eq!(names, ["a", "c", "d", "g", "i"]);
}

#[test]
fn a_cycle_is_found() {
    let edges = |list: &[(&str, &[&str])]| -> BTreeMap<String, BTreeSet<String>> {
        list.iter()
            .map(|(m, to)| ((*m).to_owned(), to.iter().map(|t| (*t).to_owned()).collect()))
            .collect()
    };
    assert_eq!(cycle(&edges(&[("a", &["b"]), ("b", &["c"]), ("c", &[])])), None);
    assert_eq!(
        cycle(&edges(&[("a", &["b"]), ("b", &["c"]), ("c", &["a"])])),
        Some(vec![
            "a".to_owned(),
            "b".to_owned(),
            "c".to_owned(),
            "a".to_owned()
        ])
    );
}

#[test]
fn the_server_modules_import_each_other_without_a_cycle() {
    let graph = graph(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    assert!(graph.contains_key("state"), "read the modules: {graph:?}");
    if let Some(found) = cycle(&graph) {
        panic!(
            "the modules import each other in a circle: {}",
            found.join(" -> ")
        );
    }
    for module in ["state", "seeds", "throttle", "db", "error"] {
        let handlers = [
            "api", "jobs", "import", "seed", "vault", "web", "routes", "server",
        ];
        let up: Vec<&String> = graph[module]
            .iter()
            .filter(|m| handlers.contains(&m.as_str()))
            .collect();
        assert!(
            up.is_empty(),
            "{module} sits below the handlers but imports {up:?}"
        );
    }
}
