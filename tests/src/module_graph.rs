//! The graph of `use` references between the files of one crate, and its
//! cycles: the layout rule that dependencies inside a crate point one way
//! (docs/architecture.md), checked by `tests/tests/layout.rs`.
//!
//! A file depends on another when its code (not its comments, not its
//! `#[cfg(test)]` module) names a path into it: `crate::a::b::Item`,
//! `super::b`, `self::c`, or a member of a `crate::{…}` group. A path
//! resolves to the longest module prefix that is a file; a `mod.rs` also
//! refers to its submodules by their own names (`use child::Item`). The
//! crate root and `error.rs` (every module's error type) are left out, and
//! so are `mod` declarations and `pub use` re-exports (what a `mod.rs` is
//! for).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A module, as the path of its file below `src/` (`a/b` for `a/b.rs` or
/// `a/b/mod.rs`; empty for the crate root).
pub type ModulePath = Vec<String>;

/// Every module file of the crate at `crate_dir` and the modules each one
/// refers to.
pub fn module_graph(crate_dir: &Path) -> std::io::Result<BTreeMap<ModulePath, BTreeSet<ModulePath>>> {
    let src = crate_dir.join("src");
    let mut files = BTreeMap::new();
    collect(&src, &src, &mut files)?;
    let mut graph = BTreeMap::new();
    for (module, file) in &files {
        let text = std::fs::read_to_string(file)?;
        let is_dir_module = file.file_name().is_some_and(|n| n == "mod.rs" || n == "lib.rs" || n == "main.rs");
        let mut edges = BTreeSet::new();
        if !is_ignored(module) {
            for path in referenced_paths(&code_of(&text), module, is_dir_module) {
                if let Some(target) = resolve(&files, &path) {
                    if &target != module && !is_ignored(&target) {
                        edges.insert(target);
                    }
                }
            }
        }
        graph.insert(module.clone(), edges);
    }
    Ok(graph)
}

/// The strongly connected components with more than one module: the
/// import cycles (Tarjan's algorithm).
pub fn cycles(graph: &BTreeMap<ModulePath, BTreeSet<ModulePath>>) -> Vec<Vec<String>> {
    struct Tarjan<'a> {
        graph: &'a BTreeMap<ModulePath, BTreeSet<ModulePath>>,
        index: BTreeMap<&'a ModulePath, usize>,
        low: BTreeMap<&'a ModulePath, usize>,
        stack: Vec<&'a ModulePath>,
        on_stack: BTreeSet<&'a ModulePath>,
        found: Vec<Vec<String>>,
    }
    impl<'a> Tarjan<'a> {
        fn visit(&mut self, v: &'a ModulePath) {
            let i = self.index.len();
            self.index.insert(v, i);
            self.low.insert(v, i);
            self.stack.push(v);
            self.on_stack.insert(v);
            for w in self.graph.get(v).into_iter().flatten() {
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let lw = self.low[w];
                    let lv = self.low.get_mut(v).expect("visited");
                    *lv = (*lv).min(lw);
                } else if self.on_stack.contains(w) {
                    let iw = self.index[w];
                    let lv = self.low.get_mut(v).expect("visited");
                    *lv = (*lv).min(iw);
                }
            }
            if self.low[v] == self.index[v] {
                let mut component = Vec::new();
                while let Some(w) = self.stack.pop() {
                    self.on_stack.remove(w);
                    component.push(w.join("/"));
                    if w == v {
                        break;
                    }
                }
                if component.len() > 1 {
                    component.sort();
                    self.found.push(component);
                }
            }
        }
    }
    let mut t = Tarjan {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for v in graph.keys() {
        if !t.index.contains_key(v) {
            t.visit(v);
        }
    }
    t.found
}

fn is_ignored(module: &ModulePath) -> bool {
    module.is_empty() || module == &["error".to_string()]
}

fn collect(root: &Path, dir: &Path, out: &mut BTreeMap<ModulePath, PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect(root, &path, out)?;
        } else if path.extension().is_some_and(|e| e == "rs") {
            let rel = path.strip_prefix(root).unwrap_or(&path).with_extension("");
            let mut module: ModulePath = rel.iter().map(|c| c.to_string_lossy().into_owned()).collect();
            if module.last().is_some_and(|l| l == "mod" || l == "lib" || l == "main") {
                module.pop();
            }
            // `bin/` programs are crates of their own.
            if module.first().is_some_and(|f| f == "bin") {
                continue;
            }
            out.insert(module, path);
        }
    }
    Ok(())
}

/// The text without comment lines and without the `#[cfg(test)]` module
/// (by convention the last item of a file).
fn code_of(text: &str) -> String {
    let mut code = String::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("#[cfg(test)]") && lines.peek().is_some_and(|next| next.trim_start().starts_with("mod ")) {
            break;
        }
        if trimmed.starts_with("pub use ") || trimmed.starts_with("pub(crate) use ") {
            // A re-export, perhaps over several lines.
            let mut end = line.contains(';');
            while !end {
                end = lines.next().is_none_or(|l| l.contains(';'));
            }
            continue;
        }
        if !trimmed.starts_with("//") {
            code.push_str(line);
            code.push('\n');
        }
    }
    code
}

/// Every `crate::`, `super::` and `self::` path in `code`, made absolute.
fn referenced_paths(code: &str, module: &ModulePath, is_dir_module: bool) -> Vec<ModulePath> {
    let mut paths = Vec::new();
    let bytes = code.as_bytes();
    for root in ["crate", "super", "self"] {
        let mut from = 0;
        while let Some(found) = code[from..].find(root) {
            let start = from + found;
            from = start + root.len();
            // Inside a longer identifier or path (`a::super`, `my_crate`): not a root.
            let preceded = start > 0 && (bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_' || bytes[start - 1] == b':');
            if preceded || !code[from..].starts_with("::") {
                continue;
            }
            // `self` is this module, `super` its parent, whether the file
            // is `a/b.rs` or `a/b/mod.rs`.
            let base: ModulePath = match root {
                "super" => module[..module.len().saturating_sub(1)].to_vec(),
                "self" => module.clone(),
                _ => Vec::new(),
            };
            let mut base = base;
            let mut rest = &code[from + 2..];
            while let Some(next) = rest.strip_prefix("super::") {
                base.pop();
                rest = next;
            }
            if let Some(group) = rest.strip_prefix('{') {
                let end = matching_brace(group);
                for member in split_top_level(&group[..end]) {
                    let segments = segments_of(member);
                    if !segments.is_empty() {
                        paths.push([base.clone(), segments].concat());
                    }
                }
            } else {
                paths.push([base, segments_of(rest)].concat());
            }
        }
    }
    if is_dir_module {
        // `use child::Item;` in a mod.rs names a submodule by itself.
        for line in code.lines() {
            if let Some(rest) = line.trim_start().strip_prefix("use ") {
                let segments = segments_of(rest);
                if segments.len() > 1 && !["crate", "super", "self", "std"].contains(&segments[0].as_str()) {
                    paths.push([module.clone(), segments].concat());
                }
            }
        }
    }
    paths
}

/// The `a::b::c` identifiers at the start of `text` (stops at anything
/// else: `{`, `;`, `(`, whitespace…).
fn segments_of(text: &str) -> Vec<String> {
    let mut segments = Vec::new();
    let mut rest = text.trim_start();
    loop {
        let len = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(rest.len());
        if len == 0 {
            break;
        }
        segments.push(rest[..len].to_string());
        match rest[len..].strip_prefix("::") {
            Some(next) if !next.starts_with('{') => rest = next,
            _ => break,
        }
    }
    segments
}

fn matching_brace(text: &str) -> usize {
    let mut depth = 0usize;
    for (i, c) in text.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => return i,
            '}' => depth -= 1,
            _ => {}
        }
    }
    text.len()
}

fn split_top_level(text: &str) -> Vec<&str> {
    let (mut parts, mut depth, mut start) = (Vec::new(), 0usize, 0);
    for (i, c) in text.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                parts.push(text[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(text[start..].trim());
    parts
}

/// The longest prefix of `path` that is a module file.
fn resolve(files: &BTreeMap<ModulePath, PathBuf>, path: &ModulePath) -> Option<ModulePath> {
    (0..=path.len()).rev().map(|n| path[..n].to_vec()).find(|prefix| files.contains_key(prefix))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph_of(files: &[(&str, &str)]) -> Vec<Vec<String>> {
        let dir = tempfile::tempdir().unwrap();
        for (path, text) in files {
            let p = dir.path().join("src").join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        cycles(&module_graph(dir.path()).unwrap())
    }

    #[test]
    fn finds_a_cycle_through_use_groups_and_super() {
        let found = graph_of(&[
            ("lib.rs", "pub mod a;\npub mod b;\npub mod error;\n"),
            ("a/mod.rs", "pub mod c;\nuse crate::{b::Thing, error::E};\n"),
            ("a/c.rs", "use super::super::b;\n"),
            ("b.rs", "// crate::a is only mentioned\nuse crate::a::c::Other;\n"),
            ("error.rs", "use crate::a::X; use crate::b::Y;\n"),
        ]);
        assert_eq!(found, vec![vec!["a/c".to_string(), "b".into()]]);
    }

    #[test]
    fn a_parent_using_its_child_and_the_child_using_the_parent_is_a_cycle() {
        let found = graph_of(&[("lib.rs", "pub mod a;\n"), ("a/mod.rs", "mod c;\nuse c::Helper;\npub struct A;\n"), ("a/c.rs", "use super::A;\n")]);
        assert_eq!(found, vec![vec!["a".to_string(), "a/c".into()]]);
    }

    #[test]
    fn comments_tests_parents_and_the_error_type_make_no_cycle() {
        let found = graph_of(&[
            ("lib.rs", "pub mod a;\npub mod b;\npub mod error;\n"),
            ("a/mod.rs", "pub mod c;\npub use c::{\n    Thing,\n};\nuse crate::b::B;\n"),
            ("a/c.rs", "use crate::b::B;\nuse crate::error::E;\n"),
            ("b.rs", "/// [`crate::a::c`]\npub struct B;\n#[cfg(test)]\nmod tests {\n    use crate::a::c::Thing;\n}\n"),
            ("error.rs", "use crate::a::c::Thing;\nuse crate::b::B;\n"),
        ]);
        assert!(found.is_empty(), "{found:?}");
    }
}
