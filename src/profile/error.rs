//! Profile errors that point at the exact place in the file.

use std::fmt;

use super::locate::locate;

/// A profile that could not be used, and where the problem is.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProfileError {
    /// The file could not be read.
    #[error("{file}: cannot read the profile: {message}")]
    Io { file: String, message: String },
    /// The file is not a valid profile.
    #[error("{0}")]
    Invalid(Located),
}

/// An error message with its place: file, field path, line and column (1-based).
#[derive(Debug, Clone, PartialEq)]
pub struct Located {
    pub file: String,
    /// Dotted path of the offending field, e.g. `timing.heartbeat` or `faults[2].every`.
    pub field: String,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
}

impl fmt::Display for Located {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(col) = self.column {
                write!(f, ":{col}")?;
            }
        }
        if self.field.is_empty() {
            write!(f, ": {}", self.message)
        } else {
            write!(f, ": field `{}`: {}", self.field, self.message)
        }
    }
}

/// A validation failure before it knows its file.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }

    /// Says under which circumstance the field is wrong (`as lease runs it`).
    pub fn when(mut self, circumstance: impl std::fmt::Display) -> Self {
        self.message = format!("{} ({circumstance})", self.message);
        self
    }

    /// Places the error in `file`, finding the field's line and column in `text`.
    pub fn at(self, file: &str, text: &str) -> ProfileError {
        let place = locate(text, &self.field);
        ProfileError::Invalid(Located {
            file: file.to_string(),
            line: place.map(|p| p.0),
            column: place.map(|p| p.1),
            field: self.field,
            message: self.message,
        })
    }
}

impl ProfileError {
    /// Turns a serde_yaml error into one that names the field and place.
    pub fn from_yaml(file: &str, text: &str, err: &serde_yaml::Error) -> Self {
        let raw = err.to_string();
        // serde_yaml appends " at line L column C"; keep the message, report the place separately.
        let message = match raw.find(" at line ") {
            Some(i) => raw[..i].to_string(),
            None => raw.clone(),
        };
        let mut field = guess_field(&message);
        let mut place = err.location().map(|l| (l.line(), l.column()));
        // serde_yaml places errors from a field's own parser at the start of the enclosing mapping;
        // our messages quote the bad value, so find the line that holds it.
        if let (Some((line, _)), Some(value)) = (place, quoted(&message)) {
            if let Some((i, l)) = text
                .lines()
                .enumerate()
                .skip(line - 1)
                .find(|(_, l)| l.contains(&value))
            {
                let col = l.find(&value).unwrap_or(0) + 1;
                place = Some((i + 1, col));
            }
        }
        if let Some((line, column)) = place {
            // serde_yaml's path stops at the struct; the key at the error's place names the field.
            if let Some(key) = key_at(text, line, column) {
                // The key may name the field itself, or the list an item of it is in
                // (`protocol` for `cluster.protocol[0]`).
                let names_key = |f: &str| {
                    let last = f.rsplit('.').next().unwrap_or(f);
                    last.split('[').next() == Some(key.as_str())
                };
                field = Some(match field {
                    Some(f) if names_key(&f) => f,
                    Some(f) if !message.contains("unknown field") => format!("{f}.{key}"),
                    Some(f) => f,
                    None => key,
                });
            }
        }
        let (line, column) = match place {
            Some((l, c)) => (Some(l), Some(c)),
            None => match field.as_deref().and_then(|f| locate(text, f)) {
                Some((l, c)) => (Some(l), Some(c)),
                None => (None, None),
            },
        };
        // Drop serde_yaml's path prefix (`timing: ...`); the field is reported on its own.
        let message = match message.split_once(": ") {
            Some((path, rest)) if !path.contains(' ') => rest.to_string(),
            _ => message,
        };
        ProfileError::Invalid(Located {
            file: file.to_string(),
            field: field.unwrap_or_default(),
            line,
            column,
            message,
        })
    }
}

/// serde_yaml prefixes errors inside a structure with the dotted path, e.g.
/// `timing.heartbeat: unknown unit`; unknown fields are named in backticks.
fn guess_field(message: &str) -> Option<String> {
    if let Some(rest) = message.split("unknown field `").nth(1) {
        let name = rest.split('`').next()?;
        let prefix = message.split(": unknown field").next().unwrap_or("");
        let prefix = if prefix.starts_with("unknown field") {
            ""
        } else {
            prefix
        };
        return Some(if prefix.is_empty() {
            name.to_string()
        } else {
            format!("{prefix}.{name}")
        });
    }
    let (path, _) = message.split_once(": ")?;
    (!path.contains(' ')).then(|| path.to_string())
}

/// The key whose entry contains the 1-based (line, column): the rightmost `key:` on that line that
/// starts at or before the column.
fn key_at(text: &str, line: usize, column: usize) -> Option<String> {
    let l = text.lines().nth(line.checked_sub(1)?)?;
    let upto: String = l.chars().take(column.max(1) + 64).collect();
    let mut best = None;
    let bytes: Vec<char> = upto.chars().collect();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_alphabetic() || bytes[i] == '_' {
            let start = i;
            while i < bytes.len()
                && (bytes[i].is_ascii_alphanumeric() || bytes[i] == '_' || bytes[i] == '-')
            {
                i += 1;
            }
            let boundary = start == 0 || matches!(bytes[start - 1], ' ' | '{' | ',' | '-');
            if boundary && i < bytes.len() && bytes[i] == ':' && start < column.max(1) {
                best = Some(bytes[start..i].iter().collect::<String>());
            }
        } else {
            i += 1;
        }
    }
    best
}

/// The first backtick-quoted text in a message.
fn quoted(message: &str) -> Option<String> {
    let rest = message.split_once('`')?.1;
    let v = rest.split_once('`')?.0;
    (!v.is_empty()).then(|| v.to_string())
}
