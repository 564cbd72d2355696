//! A located document tree: what a config file says, with the line and column of every value.
//!
//! Config files are parsed in two steps. First the text becomes a [`Node`] tree (YAML through
//! `granit-parser`'s event stream, JSON through `serde_json`), with the position of every node; then
//! typed structs are deserialized from that tree (see `de`). Owning the tree is what lets every
//! error, including the cross-field ones found after deserialization, point at a line and column,
//! and lets one pass report every mistake in a file rather than the first.
//!
//! The input is untrusted (a team's file, a parameter anyone with write access can change), so the
//! builder bounds everything it grows: input size, nesting depth and the number of nodes, aliases
//! included (a "billion laughs" document is refused after [`MAX_NODES`] nodes, not expanded).

use std::collections::HashMap;

use granit_parser::{Event, Parser, ScalarStyle, Span, Tag};

/// The largest config text accepted, in bytes. SSM advanced parameters hold 8 KB; a file this size
/// is already a mistake.
pub const MAX_CONFIG_BYTES: usize = 1024 * 1024;

/// The most nodes a document may have once its aliases are expanded.
pub const MAX_NODES: usize = 100_000;

/// The deepest nesting of lists and maps accepted.
pub const MAX_DEPTH: usize = 64;

/// A position in the source text, both 1-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pos {
    pub(crate) line: usize,
    pub(crate) column: usize,
}

impl Pos {
    fn from_span(span: &Span) -> Pos {
        Pos {
            line: span.start.line(),
            column: span.start.col() + 1,
        }
    }
}

/// A value in the tree, with where it was written (unknown for values that came from JSON without
/// text, such as the inline config in `hookDetails`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    pub(crate) value: Value,
    pub(crate) pos: Option<Pos>,
}

/// A map key, with where it was written.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Key {
    pub(crate) name: String,
    pub(crate) pos: Option<Pos>,
}

/// The kinds of value a config holds.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Null,
    Bool(bool),
    /// A negative integer; non-negative ones are [`Value::UInt`].
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(String),
    /// A plain (unquoted) YAML scalar that resolved to a number or a boolean, with the text as
    /// written, so that a string field given `name: 2024` gets `"2024"` instead of a type error.
    Plain(Box<Value>, String),
    Seq(Vec<Node>),
    /// Entries in document order; keys are unique.
    Map(Vec<(Key, Node)>),
}

/// Why a text could not become a tree.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SyntaxError {
    pub(crate) message: String,
    pub(crate) pos: Option<Pos>,
}

impl SyntaxError {
    fn new(message: impl Into<String>, pos: Option<Pos>) -> Self {
        SyntaxError {
            message: message.into(),
            pos,
        }
    }
}

impl Node {
    pub(crate) fn new(value: Value, pos: Option<Pos>) -> Node {
        Node { value, pos }
    }

    /// The value, looking through the text kept for plain scalars.
    pub(crate) fn value(&self) -> &Value {
        match &self.value {
            Value::Plain(value, _) => value,
            value => value,
        }
    }

    /// The entries, when this is a map.
    pub(crate) fn entries(&self) -> Option<&[(Key, Node)]> {
        match &self.value {
            Value::Map(entries) => Some(entries),
            _ => None,
        }
    }

    /// The value under `name`, when this is a map that has it.
    pub(crate) fn get(&self, name: &str) -> Option<&Node> {
        self.entries()?
            .iter()
            .find(|(key, _)| key.name == name)
            .map(|(_, node)| node)
    }

    /// A map holding only the entries whose keys `keep` accepts, in order, at the same position.
    pub(crate) fn filter_map_entries(&self, keep: impl Fn(&str) -> bool) -> Node {
        let entries = self
            .entries()
            .unwrap_or_default()
            .iter()
            .filter(|(key, _)| keep(&key.name))
            .cloned()
            .collect();
        Node::new(Value::Map(entries), self.pos)
    }

    /// A short description of what this value is, for messages (`a list`, `"half"`, `30`).
    pub(crate) fn describe(&self) -> String {
        match &self.value {
            Value::Null => "null".into(),
            Value::Bool(b) => b.to_string(),
            Value::Int(i) => i.to_string(),
            Value::UInt(u) => u.to_string(),
            Value::Float(f) => f.to_string(),
            Value::Str(s) => quote(s),
            Value::Plain(_, raw) => raw.clone(),
            Value::Seq(_) => "a list".into(),
            Value::Map(_) => "a map".into(),
        }
    }

    /// What this value is without its content (`a string of 40 characters`, `a number`): for a
    /// document read from a reference, which may be a secret that is not a config at all.
    pub(crate) fn describe_shape(&self) -> String {
        match &self.value {
            Value::Null => "null".into(),
            Value::Bool(_) => "a boolean".into(),
            Value::Int(_) | Value::UInt(_) | Value::Float(_) => "a number".into(),
            Value::Str(text) => format!("a string of {} characters", text.chars().count()),
            Value::Plain(_, raw) => format!("a string of {} characters", raw.chars().count()),
            Value::Seq(_) => "a list".into(),
            Value::Map(_) => "a map".into(),
        }
    }

    /// The tree as JSON. Non-finite floats, which JSON cannot hold, keep their YAML spelling.
    pub(crate) fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as Json;
        match &self.value {
            Value::Null => Json::Null,
            Value::Bool(b) => Json::Bool(*b),
            Value::Int(i) => Json::from(*i),
            Value::UInt(u) => Json::from(*u),
            Value::Float(f) => serde_json::Number::from_f64(*f)
                .map(Json::Number)
                .unwrap_or_else(|| Json::String(f.to_string())),
            Value::Str(s) => Json::String(s.clone()),
            Value::Plain(value, raw) => match Node::new((**value).clone(), None).to_json() {
                Json::String(_) => Json::String(raw.clone()),
                json => json,
            },
            Value::Seq(items) => Json::Array(items.iter().map(Node::to_json).collect()),
            Value::Map(entries) => Json::Object(
                entries
                    .iter()
                    .map(|(key, node)| (key.name.clone(), node.to_json()))
                    .collect(),
            ),
        }
    }
}

/// Quotes a string for a message, cut short when long so a message stays one readable line.
pub(crate) fn quote(text: &str) -> String {
    const MAX_CHARS: usize = 60;
    if text.chars().count() > MAX_CHARS {
        let cut: String = text.chars().take(MAX_CHARS).collect();
        format!("{}…", serde_json::Value::String(cut))
    } else {
        serde_json::Value::String(text.to_owned()).to_string()
    }
}

/// Refuses text too large to be a config before any parser sees it.
pub(crate) fn check_size(text: &str) -> Result<(), SyntaxError> {
    if text.len() > MAX_CONFIG_BYTES {
        return Err(SyntaxError::new(
            format!(
                "the config is {} bytes; the limit is {} bytes",
                text.len(),
                MAX_CONFIG_BYTES
            ),
            None,
        ));
    }
    Ok(())
}

/// Builds the tree of a JSON value that has no text (the inline config in `hookDetails`).
pub(crate) fn from_json_value(value: &serde_json::Value) -> Result<Node, SyntaxError> {
    let mut budget = MAX_NODES;
    from_json_value_within(value, 0, &mut budget)
}

fn from_json_value_within(
    value: &serde_json::Value,
    depth: usize,
    budget: &mut usize,
) -> Result<Node, SyntaxError> {
    use serde_json::Value as Json;
    if depth > MAX_DEPTH {
        return Err(SyntaxError::new(
            format!("the config nests deeper than {MAX_DEPTH} levels"),
            None,
        ));
    }
    *budget = budget.checked_sub(1).ok_or_else(|| {
        SyntaxError::new(format!("the config has more than {MAX_NODES} values"), None)
    })?;
    let value = match value {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => {
            if let Some(u) = n.as_u64() {
                Value::UInt(u)
            } else if let Some(i) = n.as_i64() {
                Value::Int(i)
            } else {
                Value::Float(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        Json::String(s) => Value::Str(s.clone()),
        Json::Array(items) => Value::Seq(
            items
                .iter()
                .map(|item| from_json_value_within(item, depth + 1, budget))
                .collect::<Result<_, _>>()?,
        ),
        Json::Object(map) => Value::Map(
            map.iter()
                .map(|(name, item)| {
                    let key = Key {
                        name: name.clone(),
                        pos: None,
                    };
                    Ok((key, from_json_value_within(item, depth + 1, budget)?))
                })
                .collect::<Result<_, SyntaxError>>()?,
        ),
    };
    Ok(Node::new(value, None))
}

/// Parses JSON text. `serde_json` decides what the text means (strict JSON, its line and column on
/// syntax errors); positions for later errors are borrowed from reading the same text as YAML,
/// which JSON is a subset of.
pub(crate) fn from_json_text(text: &str) -> Result<Node, SyntaxError> {
    check_size(text)?;
    let value: serde_json::Value = serde_json::from_str(text).map_err(|error| {
        let pos = (error.line() > 0).then(|| Pos {
            line: error.line(),
            column: error.column().max(1),
        });
        SyntaxError::new(json_error_message(&error), pos)
    })?;
    let mut node = from_json_value(&value)?;
    if let Ok(located) = from_yaml_text(text) {
        annotate(&mut node, &located);
    }
    Ok(node)
}

/// serde_json's message without the " at line L column C" it appends, since the position is
/// reported separately.
fn json_error_message(error: &serde_json::Error) -> String {
    let message = error.to_string();
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_owned(),
        None => message,
    }
}

/// Copies positions from `located` onto `node` wherever the two trees agree on shape.
fn annotate(node: &mut Node, located: &Node) {
    node.pos = located.pos;
    match (&mut node.value, &located.value) {
        (Value::Seq(items), Value::Seq(located_items)) => {
            for (item, located_item) in items.iter_mut().zip(located_items) {
                annotate(item, located_item);
            }
        }
        (Value::Map(entries), Value::Map(located_entries)) => {
            for (key, item) in entries.iter_mut() {
                if let Some((located_key, located_item)) = located_entries
                    .iter()
                    .find(|(located_key, _)| located_key.name == key.name)
                {
                    key.pos = located_key.pos;
                    annotate(item, located_item);
                }
            }
        }
        _ => {}
    }
}

/// A collection being built.
enum Frame {
    Seq {
        items: Vec<Node>,
        pos: Pos,
        anchor: usize,
    },
    Map {
        entries: Vec<(Key, Node)>,
        pending_key: Option<Key>,
        merges: Vec<Node>,
        pos: Pos,
        anchor: usize,
    },
}

/// A finished anchored node and how many nodes it counts for, so an alias is charged its full size
/// before it is cloned.
struct Anchored {
    node: Node,
    size: usize,
}

/// Parses YAML text (one document) into a tree.
pub(crate) fn from_yaml_text(text: &str) -> Result<Node, SyntaxError> {
    check_size(text)?;
    // The parser is fuzzed and documented not to panic; a panic on hostile input would still stop a
    // deployment's hook, so it is contained and reported as a syntax error all the same.
    std::panic::catch_unwind(|| YamlBuilder::default().build(text)).unwrap_or_else(|_| {
        Err(SyntaxError::new(
            "the YAML parser could not read this text",
            None,
        ))
    })
}

#[derive(Default)]
struct YamlBuilder {
    stack: Vec<Frame>,
    anchors: HashMap<usize, Anchored>,
    nodes: usize,
    root: Option<Node>,
    documents: usize,
}

impl YamlBuilder {
    fn build(mut self, text: &str) -> Result<Node, SyntaxError> {
        for event in Parser::new_from_str(text) {
            let (event, span) = event.map_err(|error| {
                let marker = error.marker();
                SyntaxError::new(
                    error.info(),
                    Some(Pos {
                        line: marker.line(),
                        column: marker.col() + 1,
                    }),
                )
            })?;
            let pos = Pos::from_span(&span);
            match event {
                Event::DocumentStart(..) => {
                    self.documents += 1;
                    if self.documents > 1 {
                        return Err(SyntaxError::new(
                            "a config is one YAML document; remove the second `---`",
                            Some(pos),
                        ));
                    }
                }
                Event::Scalar(text, style, anchor, tag) => {
                    let value = resolve_scalar(&text, style, tag.as_deref(), pos)?;
                    self.finish(Node::new(value, Some(pos)), anchor, 1)?;
                }
                Event::SequenceStart(_, anchor, tag) => {
                    check_collection_tag(tag.as_deref(), "seq", pos)?;
                    self.open(
                        Frame::Seq {
                            items: Vec::new(),
                            pos,
                            anchor,
                        },
                        pos,
                    )?;
                }
                Event::MappingStart(_, anchor, tag) => {
                    check_collection_tag(tag.as_deref(), "map", pos)?;
                    self.open(
                        Frame::Map {
                            entries: Vec::new(),
                            pending_key: None,
                            merges: Vec::new(),
                            pos,
                            anchor,
                        },
                        pos,
                    )?;
                }
                Event::SequenceEnd | Event::MappingEnd => self.close()?,
                Event::Alias(id) => {
                    let Some(anchored) = self.anchors.get(&id) else {
                        return Err(SyntaxError::new("alias to an unknown anchor", Some(pos)));
                    };
                    let (size, mut node) = (anchored.size, anchored.node.clone());
                    self.charge(size, pos)?;
                    // Errors inside the aliased value point at the alias, where the reader is.
                    relocate(&mut node, pos);
                    self.finish(node, 0, 0)?;
                }
                _ => {}
            }
        }
        Ok(self
            .root
            .unwrap_or_else(|| Node::new(Value::Null, Some(Pos { line: 1, column: 1 }))))
    }

    fn charge(&mut self, nodes: usize, pos: Pos) -> Result<(), SyntaxError> {
        self.nodes = self.nodes.saturating_add(nodes);
        if self.nodes > MAX_NODES {
            return Err(SyntaxError::new(
                format!(
                    "the config has more than {MAX_NODES} values once its aliases are expanded"
                ),
                Some(pos),
            ));
        }
        Ok(())
    }

    fn open(&mut self, frame: Frame, pos: Pos) -> Result<(), SyntaxError> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(SyntaxError::new(
                format!("the config nests deeper than {MAX_DEPTH} levels"),
                Some(pos),
            ));
        }
        self.charge(1, pos)?;
        self.stack.push(frame);
        Ok(())
    }

    fn close(&mut self) -> Result<(), SyntaxError> {
        let Some(frame) = self.stack.pop() else {
            return Ok(());
        };
        let (node, anchor) = match frame {
            Frame::Seq { items, pos, anchor } => (Node::new(Value::Seq(items), Some(pos)), anchor),
            Frame::Map {
                mut entries,
                merges,
                pos,
                anchor,
                ..
            } => {
                merge_keys(&mut entries, merges, pos)?;
                (Node::new(Value::Map(entries), Some(pos)), anchor)
            }
        };
        self.finish(node, anchor, 0)
    }

    /// Hands a complete node to its parent (or makes it the root), remembering it if anchored.
    /// `charged` is how many nodes to count now: 1 for a scalar; collections were counted when
    /// opened and aliases before they were cloned.
    fn finish(&mut self, node: Node, anchor: usize, charged: usize) -> Result<(), SyntaxError> {
        if charged > 0 {
            self.charge(charged, node.pos.unwrap_or(Pos { line: 1, column: 1 }))?;
        }
        if anchor != 0 {
            let size = count_nodes(&node);
            self.anchors.insert(
                anchor,
                Anchored {
                    node: node.clone(),
                    size,
                },
            );
        }
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map {
                entries,
                pending_key,
                merges,
                ..
            }) => match pending_key.take() {
                None => *pending_key = Some(key_of(&node)?),
                Some(key) if key.name == "<<" && is_merge_value(&node) => merges.push(node),
                Some(key) => {
                    if let Some((first, _)) = entries.iter().find(|(k, _)| k.name == key.name) {
                        let first_line = first
                            .pos
                            .map(|p| format!(" (first at line {})", p.line))
                            .unwrap_or_default();
                        return Err(SyntaxError::new(
                            format!("duplicate key {}{first_line}", quote(&key.name)),
                            key.pos,
                        ));
                    }
                    entries.push((key, node));
                }
            },
        }
        Ok(())
    }
}

fn count_nodes(node: &Node) -> usize {
    1 + match &node.value {
        Value::Seq(items) => items.iter().map(count_nodes).sum(),
        Value::Map(entries) => entries.iter().map(|(_, n)| count_nodes(n)).sum(),
        _ => 0,
    }
}

fn relocate(node: &mut Node, pos: Pos) {
    node.pos = Some(pos);
    match &mut node.value {
        Value::Seq(items) => items.iter_mut().for_each(|item| relocate(item, pos)),
        Value::Map(entries) => entries.iter_mut().for_each(|(key, item)| {
            key.pos = Some(pos);
            relocate(item, pos);
        }),
        _ => {}
    }
}

fn key_of(node: &Node) -> Result<Key, SyntaxError> {
    let name = match &node.value {
        Value::Str(s) => s.clone(),
        Value::Plain(_, raw) => raw.clone(),
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::UInt(u) => u.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Seq(_) | Value::Map(_) => {
            return Err(SyntaxError::new(
                "a map key must be a plain name, not a list or a map",
                node.pos,
            ));
        }
    };
    Ok(Key {
        name,
        pos: node.pos,
    })
}

fn is_merge_value(node: &Node) -> bool {
    match &node.value {
        Value::Map(_) => true,
        Value::Seq(items) => items.iter().all(|item| matches!(item.value, Value::Map(_))),
        _ => false,
    }
}

/// Applies YAML merge keys (`<<: *base`): entries of the merged maps that the map does not set
/// itself are added, earlier merged maps winning over later ones.
fn merge_keys(
    entries: &mut Vec<(Key, Node)>,
    merges: Vec<Node>,
    _pos: Pos,
) -> Result<(), SyntaxError> {
    for merged in merges {
        let maps = match merged.value {
            Value::Map(map) => vec![map],
            Value::Seq(items) => items
                .into_iter()
                .filter_map(|item| match item.value {
                    Value::Map(map) => Some(map),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        };
        for map in maps {
            for (key, node) in map {
                if !entries.iter().any(|(k, _)| k.name == key.name) {
                    entries.push((key, node));
                }
            }
        }
    }
    Ok(())
}

fn check_collection_tag(tag: Option<&Tag>, core: &str, pos: Pos) -> Result<(), SyntaxError> {
    match tag {
        None => Ok(()),
        Some(tag) if tag.is_yaml_core_schema_tag(core) => Ok(()),
        Some(tag) => Err(unsupported_tag(tag, pos)),
    }
}

fn unsupported_tag(tag: &Tag, pos: Pos) -> SyntaxError {
    SyntaxError::new(
        format!(
            "YAML tags such as `{}` are not supported here; write the value plainly",
            tag.original()
        ),
        Some(pos),
    )
}

/// Resolves a scalar under the YAML 1.2 core schema: quoted scalars are strings; plain ones may be
/// null, booleans, integers or floats. YAML 1.1's `yes`/`no`/`on`/`off` stay strings, so a typed
/// field given `yes` gets a clear type error rather than a silent guess.
fn resolve_scalar(
    text: &str,
    style: ScalarStyle,
    tag: Option<&Tag>,
    pos: Pos,
) -> Result<Value, SyntaxError> {
    if let Some(tag) = tag {
        let core = ["str", "int", "float", "bool", "null"]
            .into_iter()
            .find(|suffix| tag.is_yaml_core_schema_tag(suffix));
        return match core {
            Some("str") => Ok(Value::Str(text.to_owned())),
            Some(kind) => {
                let value = resolve_plain(text);
                let matches = matches!(
                    (kind, &value),
                    ("int", Value::Int(_) | Value::UInt(_))
                        | ("float", Value::Float(_) | Value::Int(_) | Value::UInt(_))
                        | ("bool", Value::Bool(_))
                        | ("null", Value::Null)
                );
                if matches {
                    Ok(value)
                } else {
                    Err(SyntaxError::new(
                        format!("{} is not a valid !!{kind}", quote(text)),
                        Some(pos),
                    ))
                }
            }
            _ => Err(unsupported_tag(tag, pos)),
        };
    }
    if style != ScalarStyle::Plain {
        return Ok(Value::Str(text.to_owned()));
    }
    Ok(match resolve_plain(text) {
        Value::Str(s) => Value::Str(s),
        Value::Null => Value::Null,
        value => Value::Plain(Box::new(value), text.to_owned()),
    })
}

fn resolve_plain(text: &str) -> Value {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Value::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Value::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Value::Float(f64::NAN),
        _ => {}
    }
    if let Some(value) = resolve_int(text) {
        return value;
    }
    if is_core_float(text)
        && let Ok(f) = text.parse::<f64>()
    {
        return Value::Float(f);
    }
    Value::Str(text.to_owned())
}

fn resolve_int(text: &str) -> Option<Value> {
    let (radix, digits, negative) = if let Some(hex) = text.strip_prefix("0x") {
        (16, hex, false)
    } else if let Some(octal) = text.strip_prefix("0o") {
        (8, octal, false)
    } else if let Some(negative) = text.strip_prefix('-') {
        (10, negative, true)
    } else {
        (10, text.strip_prefix('+').unwrap_or(text), false)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let magnitude = u64::from_str_radix(digits, radix).ok();
    match (magnitude, negative) {
        (Some(0), true) => Some(Value::UInt(0)),
        (Some(m), true) => 0i64
            .checked_sub_unsigned(m)
            .map(Value::Int)
            .or(Some(Value::Str(text.to_owned()))),
        (Some(m), false) => Some(Value::UInt(m)),
        // Out of range: keep the text; the field's type will say what range it takes.
        (None, _) => Some(Value::Str(text.to_owned())),
    }
}

/// `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`
fn is_core_float(text: &str) -> bool {
    let body = text.strip_prefix(['-', '+']).unwrap_or(text);
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(at) => (&body[..at], Some(&body[at + 1..])),
        None => (body, None),
    };
    let mantissa_ok = match mantissa.split_once('.') {
        Some((int, frac)) => {
            (!int.is_empty() || !frac.is_empty())
                && int.chars().all(|c| c.is_ascii_digit())
                && frac.chars().all(|c| c.is_ascii_digit())
                && !(int.is_empty() && frac.is_empty())
        }
        None => !mantissa.is_empty() && mantissa.chars().all(|c| c.is_ascii_digit()),
    };
    let exponent_ok = exponent.is_none_or(|e| {
        let digits = e.strip_prefix(['-', '+']).unwrap_or(e);
        !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit())
    });
    mantissa_ok && exponent_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(text: &str) -> Node {
        from_yaml_text(text).unwrap()
    }

    #[test]
    fn scalars_resolve_under_the_core_schema() {
        let node = yaml("a: 1\nb: -2\nc: 1.5\nd: true\ne: ~\nf: 2xx\ng: '3'\nh: yes\ni: 0x10\n");
        let values: Vec<_> = node
            .entries()
            .unwrap()
            .iter()
            .map(|(_, n)| n.value().clone())
            .collect();
        assert_eq!(
            values,
            vec![
                Value::UInt(1),
                Value::Int(-2),
                Value::Float(1.5),
                Value::Bool(true),
                Value::Null,
                Value::Str("2xx".into()),
                Value::Str("3".into()),
                Value::Str("yes".into()),
                Value::UInt(16),
            ]
        );
    }

    #[test]
    fn plain_numbers_keep_their_text() {
        let node = yaml("version: 1.10\n");
        assert_eq!(
            node.get("version").unwrap().value,
            Value::Plain(Box::new(Value::Float(1.1)), "1.10".into())
        );
    }

    #[test]
    fn positions_are_one_based() {
        let node = yaml("stages:\n  PRE_SCALE_UP:\n    - image: {}\n");
        let stage = node.get("stages").unwrap().get("PRE_SCALE_UP").unwrap();
        assert_eq!(stage.pos, Some(Pos { line: 3, column: 5 }));
        let key = &node.get("stages").unwrap().entries().unwrap()[0].0;
        assert_eq!(key.pos, Some(Pos { line: 2, column: 3 }));
    }

    #[test]
    fn syntax_errors_carry_a_position() {
        let error = from_yaml_text("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(error.pos.is_some(), "{error:?}");
    }

    #[test]
    fn duplicate_keys_are_refused() {
        let error = from_yaml_text("a: 1\nb: 2\na: 3\n").unwrap_err();
        assert!(
            error
                .message
                .contains("duplicate key \"a\" (first at line 1)")
        );
        assert_eq!(error.pos, Some(Pos { line: 3, column: 1 }));
    }

    #[test]
    fn aliases_expand_and_merge_keys_apply() {
        let node = yaml("base: &b { x: 1, y: 2 }\nuse:\n  <<: *b\n  y: 3\n");
        let used = node.get("use").unwrap();
        assert_eq!(used.get("x").unwrap().value(), &Value::UInt(1));
        assert_eq!(used.get("y").unwrap().value(), &Value::UInt(3));
    }

    #[test]
    fn alias_bombs_are_refused_without_expanding() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for level in 1..12 {
            let prev = level - 1;
            text.push_str(&format!(
                "a{level}: &a{level} [*a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}]\n"
            ));
        }
        let error = from_yaml_text(&text).unwrap_err();
        assert!(error.message.contains("aliases are expanded"), "{error:?}");
    }

    #[test]
    fn deep_nesting_is_refused() {
        let text = format!("{}{}", "[".repeat(200), "]".repeat(200));
        let error = from_yaml_text(&text).unwrap_err();
        assert!(error.message.contains("nests deeper"), "{error:?}");
    }

    #[test]
    fn oversized_text_is_refused() {
        let text = "#".repeat(MAX_CONFIG_BYTES + 1);
        assert!(from_yaml_text(&text).unwrap_err().message.contains("limit"));
    }

    #[test]
    fn second_documents_and_custom_tags_are_refused() {
        assert!(from_yaml_text("a: 1\n---\nb: 2\n").is_err());
        assert!(
            from_yaml_text("a: !ruby/object x\n")
                .unwrap_err()
                .message
                .contains("tags")
        );
        assert_eq!(
            yaml("a: !!str 12\n").get("a").unwrap().value,
            Value::Str("12".into())
        );
    }

    #[test]
    fn empty_text_is_null() {
        assert_eq!(yaml("").value, Value::Null);
        assert_eq!(yaml("# only a comment\n").value, Value::Null);
    }

    #[test]
    fn json_text_gets_positions_from_the_yaml_reading() {
        let node = from_json_text("{\n  \"a\": {\n    \"b\": 1\n  }\n}\n").unwrap();
        let b = node.get("a").unwrap().get("b").unwrap();
        assert_eq!(b.value, Value::UInt(1));
        assert_eq!(b.pos.map(|p| p.line), Some(3));
    }

    #[test]
    fn json_syntax_errors_carry_serde_json_positions() {
        let error = from_json_text("{\n  \"a\": 1,\n}\n").unwrap_err();
        assert_eq!(error.pos.map(|p| p.line), Some(3));
        assert!(!error.message.contains(" at line "), "{}", error.message);
    }

    #[test]
    fn to_json_round_trips_plain_values() {
        let node = yaml("a: [1, -2, 1.5, x, '7', ~]\nb: { c: true }\n");
        assert_eq!(
            node.to_json(),
            serde_json::json!({"a": [1, -2, 1.5, "x", "7", null], "b": {"c": true}})
        );
    }
}
