//! Build script: copies the WGSL shaders of `shaders/` into `OUT_DIR` without their comments and
//! indentation, for `src/backend/webgpu/kernels.rs` to embed. The comments are the kernels'
//! documentation and stay in the sources; the browser does not need them, and they were about 40%
//! of the shaders' gzipped bytes in the .wasm. Line breaks are kept, so a WGSL compile error's
//! line number is the line in `shaders/<file>` (after `common.wgsl`'s lines, which are prepended).

use std::path::Path;

fn main() {
    let out = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    let dir = Path::new(&out).join("shaders");
    std::fs::create_dir_all(&dir).expect("create OUT_DIR/shaders");
    println!("cargo:rerun-if-changed=shaders");
    let mut entries: Vec<_> = std::fs::read_dir("shaders")
        .expect("read shaders/")
        .map(|e| e.expect("read shaders/").path())
        .filter(|p| p.extension().is_some_and(|x| x == "wgsl"))
        .collect();
    entries.sort();
    for path in entries {
        println!("cargo:rerun-if-changed={}", path.display());
        let source = std::fs::read_to_string(&path).expect("read a shader");
        let name = path.file_name().expect("a file name");
        std::fs::write(dir.join(name), strip_comments(&source)).expect("write a shader");
    }
}

/// Removes `// …` and `/* … */` comments (WGSL has no string literals, so no quoting to respect)
/// and needless blanks ([`tighten`]); keeps every line break, so WGSL errors name source lines.
fn strip_comments(source: &str) -> String {
    let mut code = String::with_capacity(source.len());
    let mut chars = source.chars().peekable();
    let mut block_depth = 0usize; // WGSL block comments nest
    while let Some(c) = chars.next() {
        if block_depth > 0 {
            match (c, chars.peek()) {
                ('*', Some('/')) => {
                    chars.next();
                    block_depth -= 1;
                }
                ('/', Some('*')) => {
                    chars.next();
                    block_depth += 1;
                }
                ('\n', _) => code.push('\n'),
                _ => {}
            }
            continue;
        }
        match (c, chars.peek()) {
            ('/', Some('/')) => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        code.push('\n');
                        break;
                    }
                }
            }
            ('/', Some('*')) => {
                chars.next();
                block_depth = 1;
                code.push(' ');
            }
            _ => code.push(c),
        }
    }
    let mut lines: Vec<String> = code.split('\n').map(tighten).collect();
    while lines.last().is_some_and(String::is_empty) {
        lines.pop();
    }
    let mut stripped = lines.join("\n");
    stripped.push('\n');
    stripped
}

/// One line without its leading and trailing blanks, nor the blanks beside `{ } ( ) [ ] ; , : =`,
/// except where dropping one would join two operator characters into another token
/// (`vec4<f32> = x` must not become `>=`); blanks between operators stay (`a / *p`, `a - -b`).
fn tighten(line: &str) -> String {
    const TIGHT: &[char] = &['{', '}', '(', ')', '[', ']', ';', ',', ':', '='];
    const OPERATOR: &[char] = &['<', '>', '!', '=', '+', '-', '*', '/', '%', '&', '|', '^'];
    let mut out = String::with_capacity(line.len());
    let mut pending_blank = false;
    for c in line.trim().chars() {
        if c == ' ' || c == '\t' {
            pending_blank = true;
            continue;
        }
        if pending_blank {
            let prev = out.chars().last().unwrap_or(' ');
            let droppable = (TIGHT.contains(&c) || TIGHT.contains(&prev))
                && !(OPERATOR.contains(&prev) && OPERATOR.contains(&c));
            if !droppable {
                out.push(' ');
            }
        }
        pending_blank = false;
        out.push(c);
    }
    out
}
