//! Finds where a dotted field path (`network.links[1].latency`) sits in YAML text, so that errors
//! found after parsing can still name a line and column. It understands block mappings and
//! sequences and flow mappings (`{ a: 1 }`) on one line, which is what profiles use.

/// 1-based (line, column) of the field's key, or of its nearest located ancestor.
pub fn locate(text: &str, path: &str) -> Option<(usize, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut best = None;
    let (mut from, mut to, mut min_indent) = (0usize, lines.len(), 0usize);
    for segment in split_path(path) {
        let (key, index) = segment;
        let mut found = None;
        if !key.is_empty() {
            for (i, line) in lines.iter().enumerate().take(to).skip(from) {
                let trimmed = strip_comment(line);
                let indent = trimmed.len() - trimmed.trim_start().len();
                if indent < min_indent && i > from {
                    break;
                }
                if let Some(col) = find_key(trimmed, &key) {
                    found = Some((i, col));
                    break;
                }
            }
            let (i, col) = found?;
            best = Some((i + 1, col + 1));
            from = i;
            min_indent = col + 1;
            to = block_end(&lines, i, col);
        }
        if let Some(n) = index {
            // The n-th `- ` item below the key, or the n-th item of a flow sequence on its line.
            let mut count = 0;
            let mut hit = None;
            for (i, line) in lines.iter().enumerate().take(to).skip(from) {
                let t = strip_comment(line);
                let trimmed = t.trim_start();
                if trimmed.starts_with("- ") || trimmed == "-" {
                    if count == n {
                        hit = Some((i, t.len() - trimmed.len()));
                        break;
                    }
                    count += 1;
                }
            }
            let flow = || flow_item(lines[from], min_indent, n).map(|col| (from, col));
            let Some((i, col)) = hit.or_else(flow) else {
                return best;
            };
            best = Some((i + 1, col + 1));
            from = i;
            min_indent = col + 1;
            to = block_end(&lines, i, col);
        }
    }
    best
}

fn split_path(path: &str) -> Vec<(String, Option<usize>)> {
    path.split('.')
        .filter(|s| !s.is_empty())
        .map(|seg| match seg.split_once('[') {
            Some((k, rest)) => (
                k.to_string(),
                rest.trim_end_matches(']').parse::<usize>().ok(),
            ),
            None => (seg.to_string(), None),
        })
        .collect()
}

/// The column of the n-th item of a flow sequence (`key: [a, b, c]`) that starts on this line
/// after column `after`. Nested brackets and quoted text are skipped over.
fn flow_item(line: &str, after: usize, n: usize) -> Option<usize> {
    let line = strip_comment(line);
    let open = after + line.get(after..)?.find('[')?;
    let (mut depth, mut count, mut quote) = (0usize, 0usize, None);
    let mut item_start = None;
    for (k, c) in line.char_indices().skip_while(|&(k, _)| k <= open) {
        match (quote, c) {
            (Some(q), _) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '[' | '{') => depth += 1,
            (None, ']' | '}') if depth == 0 => break,
            (None, ']' | '}') => depth -= 1,
            (None, ',') if depth == 0 => {
                count += 1;
                item_start = None;
                continue;
            }
            _ => {}
        }
        if item_start.is_none() && !c.is_whitespace() {
            item_start = Some(k);
            if count == n {
                return Some(k);
            }
        }
    }
    None
}

fn strip_comment(line: &str) -> &str {
    match line.find(" #") {
        Some(i) => &line[..i],
        None if line.trim_start().starts_with('#') => "",
        None => line,
    }
}

/// Column of `key:` in the line, as a block key or inside a flow mapping.
fn find_key(line: &str, key: &str) -> Option<usize> {
    let mut start = 0;
    while let Some(pos) = line[start..].find(key) {
        let at = start + pos;
        let before = line[..at].chars().last();
        let after = &line[at + key.len()..];
        let boundary = matches!(before, None | Some(' ' | '{' | ',' | '-' | '"' | '\''));
        let after = after.trim_start_matches(['"', '\'']);
        if boundary && after.starts_with(':') {
            return Some(at);
        }
        start = at + key.len();
    }
    None
}

/// The first line after `start` indented at or left of `col` (end of the key's block).
fn block_end(lines: &[&str], start: usize, col: usize) -> usize {
    for (i, line) in lines.iter().enumerate().skip(start + 1) {
        let t = strip_comment(line);
        if t.trim().is_empty() {
            continue;
        }
        let indent = t.len() - t.trim_start().len();
        let is_item = t.trim_start().starts_with("- ");
        if indent < col || (indent == col && !is_item) {
            return i;
        }
    }
    lines.len()
}

#[cfg(test)]
mod tests {
    use super::locate;

    const TEXT: &str = "name: x\ntiming:\n  heartbeat: 100ms\n  election_timeout: 1s..2s\nnetwork:\n  links:\n    - { between: [a, b], latency: 35ms }\n    - { between: [a, c], latency: 9ms }\nfaults:\n  - kind: pause\n    every: 3s\n";

    #[test]
    fn finds_nested_fields() {
        assert_eq!(locate(TEXT, "timing.heartbeat"), Some((3, 3)));
        assert_eq!(locate(TEXT, "timing.election_timeout"), Some((4, 3)));
        assert_eq!(locate(TEXT, "network.links[1].latency"), Some((8, 26)));
        assert_eq!(locate(TEXT, "faults[0].every"), Some((11, 5)));
        assert_eq!(locate(TEXT, "name"), Some((1, 1)));
    }

    #[test]
    fn finds_items_of_flow_sequences_and_falls_back_to_the_key() {
        let text =
            "sweep:\n  heartbeat: [50ms]\n  election_timeout: [500ms..1s, 1s..3s, \"2s..4s\"]\n";
        assert_eq!(locate(text, "sweep.election_timeout[0]"), Some((3, 22)));
        assert_eq!(locate(text, "sweep.election_timeout[1]"), Some((3, 33)));
        assert_eq!(locate(text, "sweep.election_timeout[2]"), Some((3, 41)));
        // No such item: the key's place rather than nothing.
        assert_eq!(locate(text, "sweep.election_timeout[7]"), Some((3, 3)));
    }
}
