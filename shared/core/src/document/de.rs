//! Serde over the located tree: typed structs are deserialized from [`Node`]s, and every error
//! comes back with the field path and the position of the value it is about.
//!
//! Two things serde alone does not give are done here. Errors name the path (`checks[1].http.url`)
//! and the line and column, because the deserializer knows which node it is reading. And
//! [`collect`] reports every bad field of a struct, not only the first: it removes the field an
//! error was about and tries again, so a file with three mistakes gets three messages.

use std::fmt;

use serde::de::value::StrDeserializer;
use serde::de::{
    self, DeserializeOwned, DeserializeSeed, EnumAccess, IntoDeserializer, MapAccess, SeqAccess,
    Unexpected, VariantAccess, Visitor,
};

use super::node::{Key, Node, Pos, Value, quote};
use super::suggest::did_you_mean;

/// One step of a field path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Seg {
    Key(String),
    Index(usize),
}

/// Where a value sits in the document (`stages.PRE_SCALE_UP[0].image.registries[2]`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct FieldPath(pub(crate) Vec<Seg>);

impl FieldPath {
    pub(crate) fn root() -> Self {
        FieldPath(Vec::new())
    }

    pub(crate) fn key(&self, key: impl Into<String>) -> Self {
        let mut segs = self.0.clone();
        segs.push(Seg::Key(key.into()));
        FieldPath(segs)
    }

    pub(crate) fn index(&self, index: usize) -> Self {
        let mut segs = self.0.clone();
        segs.push(Seg::Index(index));
        FieldPath(segs)
    }

    /// This path followed by `rest`.
    pub(crate) fn join(&self, rest: &FieldPath) -> Self {
        FieldPath(self.0.iter().chain(&rest.0).cloned().collect())
    }

    /// The path with a dotted suffix (`expect.p99`, `headers`) appended.
    pub(crate) fn dotted(&self, suffix: &str) -> Self {
        suffix
            .split('.')
            .filter(|part| !part.is_empty())
            .fold(self.clone(), |path, part| path.key(part))
    }

    /// The position of the deepest node on this path that exists in `root`: the value itself when
    /// it is there, else the map that should have held it.
    pub(crate) fn locate(&self, root: &Node) -> Option<Pos> {
        let mut node = root;
        let mut pos = root.pos;
        for seg in &self.0 {
            let next = match (seg, &node.value) {
                (Seg::Key(name), Value::Map(entries)) => {
                    entries.iter().find(|(key, _)| &key.name == name)
                }
                (Seg::Index(i), Value::Seq(items)) => {
                    match items.get(*i) {
                        Some(item) => {
                            node = item;
                            pos = item.pos.or(pos);
                        }
                        None => break,
                    }
                    continue;
                }
                _ => None,
            };
            match next {
                Some((_, value)) => {
                    node = value;
                    pos = value.pos.or(pos);
                }
                None => break,
            }
        }
        pos
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                Seg::Index(index) => write!(f, "[{index}]")?,
                Seg::Key(key) if is_plain_key(key) => {
                    if i > 0 {
                        f.write_str(".")?;
                    }
                    f.write_str(key)?;
                }
                Seg::Key(key) => write!(f, "[{}]", quote(key))?,
            }
        }
        Ok(())
    }
}

fn is_plain_key(key: &str) -> bool {
    !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '$')
}

/// What went wrong while deserializing.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum DeErrorKind {
    UnknownField {
        field: String,
        expected: &'static [&'static str],
    },
    UnknownVariant {
        variant: String,
        expected: &'static [&'static str],
    },
    MissingField(&'static str),
    Message(String),
}

/// A deserialization error with the path (relative to where deserialization started) and the
/// position of the value it is about.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DeError {
    pub(crate) kind: DeErrorKind,
    pub(crate) path: FieldPath,
    pub(crate) pos: Option<Pos>,
}

impl DeError {
    pub(crate) fn message(message: impl Into<String>) -> Self {
        DeError {
            kind: DeErrorKind::Message(message.into()),
            path: FieldPath::root(),
            pos: None,
        }
    }

    /// Sets the position unless a deeper node already did.
    fn at(mut self, pos: Option<Pos>) -> Self {
        if self.pos.is_none() {
            self.pos = pos;
        }
        self
    }

    /// Prefixes the path with the step that led to the failing value.
    fn within(mut self, seg: Seg) -> Self {
        self.path.0.insert(0, seg);
        self
    }

    /// Whether this is an unknown field at the top whose suggestion is `field`.
    fn suggests(&self, field: &str) -> bool {
        match &self.kind {
            DeErrorKind::UnknownField {
                field: unknown,
                expected,
            } if self.path.0.len() == 1 => {
                did_you_mean(unknown, expected.iter().copied()) == Some(field)
            }
            _ => false,
        }
    }

    /// The message, with a "did you mean" for unknown names. `also` are further names that were
    /// allowed where the error happened (the common check fields next to a check's own).
    pub(crate) fn render(&self, also: &[&str]) -> String {
        match &self.kind {
            DeErrorKind::UnknownField { field, expected } => {
                let known: Vec<&str> = expected
                    .iter()
                    .copied()
                    .chain(also.iter().copied())
                    .collect();
                unknown_name_message("field", field, &known)
            }
            DeErrorKind::UnknownVariant { variant, expected } => {
                unknown_name_message("value", variant, expected)
            }
            DeErrorKind::MissingField(field) => format!("missing required field `{field}`"),
            DeErrorKind::Message(message) => message.clone(),
        }
    }
}

/// `unknown field "pathh"; did you mean "path"?` or the list of what is allowed.
pub(crate) fn unknown_name_message(what: &str, name: &str, known: &[&str]) -> String {
    match did_you_mean(name, known.iter().copied()) {
        Some(suggestion) => format!(
            "unknown {what} {}; did you mean {}?",
            quote(name),
            quote(suggestion)
        ),
        None if known.is_empty() => format!("unknown {what} {}", quote(name)),
        None => format!(
            "unknown {what} {}; expected one of: {}",
            quote(name),
            known.join(", ")
        ),
    }
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(&[]))
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError::message(msg.to_string())
    }

    fn invalid_type(unexp: Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        DeError::message(format!(
            "expected {}, got {}",
            plain_expected(&exp.to_string()),
            plain_unexpected(&unexp)
        ))
    }

    fn invalid_value(unexp: Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        DeError::message(format!(
            "expected {}, got {}",
            plain_expected(&exp.to_string()),
            plain_unexpected(&unexp)
        ))
    }

    fn invalid_length(len: usize, exp: &dyn de::Expected) -> Self {
        DeError::message(format!("expected {exp}, got {len} items"))
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        DeError {
            kind: DeErrorKind::UnknownVariant {
                variant: variant.to_owned(),
                expected,
            },
            path: FieldPath::root(),
            pos: None,
        }
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        DeError {
            kind: DeErrorKind::UnknownField {
                field: field.to_owned(),
                expected,
            },
            path: FieldPath::root(),
            pos: None,
        }
    }

    fn missing_field(field: &'static str) -> Self {
        DeError {
            kind: DeErrorKind::MissingField(field),
            path: FieldPath::root(),
            pos: None,
        }
    }

    fn duplicate_field(field: &'static str) -> Self {
        DeError::message(format!("field `{field}` is given twice"))
    }
}

/// serde's names for what a primitive visitor wanted, in words a config author reads.
fn plain_expected(expected: &str) -> String {
    match expected {
        "u8" | "u16" | "u32" | "u64" | "usize" => "a whole number".into(),
        "i8" | "i16" | "i32" | "i64" | "isize" => "an integer".into(),
        "f32" | "f64" => "a number".into(),
        "a sequence" => "a list".into(),
        "a boolean" => "true or false".into(),
        other if other.starts_with("struct ") => "a map of fields".into(),
        other => other.into(),
    }
}

fn plain_unexpected(unexp: &Unexpected<'_>) -> String {
    match unexp {
        Unexpected::Str(s) => quote(s),
        Unexpected::Bool(b) => b.to_string(),
        Unexpected::Unsigned(u) => u.to_string(),
        Unexpected::Signed(i) => i.to_string(),
        Unexpected::Float(f) => f.to_string(),
        Unexpected::Unit | Unexpected::Option => "null".into(),
        Unexpected::Seq => "a list".into(),
        Unexpected::Map => "a map".into(),
        other => other.to_string(),
    }
}

/// Deserializes `T` from `node`, reporting every field that is wrong: after each error about a
/// field, the field is removed and deserialization tried again, until it succeeds or an error is
/// not about one field. An error about a required field that was removed is not repeated.
pub(crate) fn collect<T: DeserializeOwned>(node: &Node) -> Result<T, Vec<DeError>> {
    let mut node = node.clone();
    let mut errors = Vec::new();
    let mut removed: Vec<String> = Vec::new();
    loop {
        let error = match T::deserialize(&node) {
            Ok(value) if errors.is_empty() => return Ok(value),
            Ok(_) => return Err(errors),
            Err(error) => error,
        };
        if let DeErrorKind::MissingField(field) = &error.kind {
            // Already explained: the field was removed for its own error, or a misspelling of it
            // was reported with it as the suggestion.
            let explained = removed.iter().any(|name| name == field)
                || errors
                    .iter()
                    .any(|earlier: &DeError| earlier.suggests(field));
            if error.path.0.is_empty() && explained {
                return Err(errors);
            }
        }
        let field = match error.path.0.first() {
            Some(Seg::Key(name)) => Some(name.clone()),
            _ => None,
        };
        errors.push(error);
        let Some(field) = field else {
            return Err(errors);
        };
        let Value::Map(entries) = &mut node.value else {
            return Err(errors);
        };
        let before = entries.len();
        entries.retain(|(key, _)| key.name != field);
        if entries.len() == before {
            return Err(errors);
        }
        removed.push(field);
    }
}

/// The fields a derived struct accepts, read by asking it to deserialize itself from a probe that
/// records the list serde passes.
pub(crate) fn struct_fields<T: DeserializeOwned>() -> &'static [&'static str] {
    struct Probe;
    #[derive(Debug)]
    struct ProbeError(Option<&'static [&'static str]>);
    impl fmt::Display for ProbeError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("probe")
        }
    }
    impl std::error::Error for ProbeError {}
    impl de::Error for ProbeError {
        fn custom<M: fmt::Display>(_: M) -> Self {
            ProbeError(None)
        }
    }
    impl<'de> de::Deserializer<'de> for Probe {
        type Error = ProbeError;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, ProbeError> {
            Err(ProbeError(None))
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, ProbeError> {
            Err(ProbeError(Some(fields)))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
            option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
            ignored_any
        }
    }
    match T::deserialize(Probe) {
        Err(ProbeError(Some(fields))) => fields,
        _ => &[],
    }
}

impl<'de> de::Deserializer<'de> for &'de Node {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let result = match &self.value {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Int(i) => visitor.visit_i64(*i),
            Value::UInt(u) => visitor.visit_u64(*u),
            Value::Float(f) => visitor.visit_f64(*f),
            Value::Str(s) => visitor.visit_borrowed_str(s),
            Value::Plain(value, _) => match value.as_ref() {
                Value::Bool(b) => visitor.visit_bool(*b),
                Value::Int(i) => visitor.visit_i64(*i),
                Value::UInt(u) => visitor.visit_u64(*u),
                Value::Float(f) => visitor.visit_f64(*f),
                _ => visitor.visit_unit(),
            },
            Value::Seq(items) => visit_seq(items, visitor),
            Value::Map(entries) => visit_map(entries, visitor),
        };
        result.map_err(|error| error.at(self.pos))
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let result: Result<V::Value, DeError> = match &self.value {
            Value::Str(s) => visitor.visit_borrowed_str(s),
            // A plain `2024` read where text is wanted is the text the author wrote.
            Value::Plain(_, raw) => visitor.visit_borrowed_str(raw),
            _ => return self.deserialize_any(visitor),
        };
        result.map_err(|error| error.at(self.pos))
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let result: Result<V::Value, DeError> = match &self.value {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        };
        result.map_err(|error| error.at(self.pos))
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor
            .visit_newtype_struct(self)
            .map_err(|error| error.at(self.pos))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_map(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let result: Result<V::Value, DeError> = match &self.value {
            // `expect:` with nothing after it means "no fields", as it reads.
            Value::Null => visit_map(&[], visitor),
            _ => return self.deserialize_any(visitor),
        };
        result.map_err(|error| error.at(self.pos))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let result: Result<V::Value, DeError> = match &self.value {
            Value::Str(s) => {
                let name: StrDeserializer<'_, DeError> = s.as_str().into_deserializer();
                visitor.visit_enum(name)
            }
            Value::Plain(_, raw) => {
                let name: StrDeserializer<'_, DeError> = raw.as_str().into_deserializer();
                visitor.visit_enum(name)
            }
            Value::Map(entries) if entries.len() == 1 => visitor.visit_enum(Variant(&entries[0])),
            _ => return self.deserialize_any(visitor),
        };
        result.map_err(|error| error.at(self.pos))
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char bytes byte_buf unit
        unit_struct seq tuple tuple_struct
    }
}

fn visit_seq<'de, V: Visitor<'de>>(items: &'de [Node], visitor: V) -> Result<V::Value, DeError> {
    struct Items<'de> {
        items: std::slice::Iter<'de, Node>,
        index: usize,
    }
    impl<'de> SeqAccess<'de> for Items<'de> {
        type Error = DeError;
        fn next_element_seed<T: DeserializeSeed<'de>>(
            &mut self,
            seed: T,
        ) -> Result<Option<T::Value>, DeError> {
            let Some(item) = self.items.next() else {
                return Ok(None);
            };
            let index = self.index;
            self.index += 1;
            seed.deserialize(item)
                .map(Some)
                .map_err(|error| error.at(item.pos).within(Seg::Index(index)))
        }
        fn size_hint(&self) -> Option<usize> {
            Some(self.items.len())
        }
    }
    visitor.visit_seq(Items {
        items: items.iter(),
        index: 0,
    })
}

fn visit_map<'de, V: Visitor<'de>>(
    entries: &'de [(Key, Node)],
    visitor: V,
) -> Result<V::Value, DeError> {
    struct Entries<'de> {
        entries: std::slice::Iter<'de, (Key, Node)>,
        current: Option<&'de (Key, Node)>,
    }
    impl<'de> MapAccess<'de> for Entries<'de> {
        type Error = DeError;
        fn next_key_seed<K: DeserializeSeed<'de>>(
            &mut self,
            seed: K,
        ) -> Result<Option<K::Value>, DeError> {
            let Some(entry) = self.entries.next() else {
                return Ok(None);
            };
            self.current = Some(entry);
            let (key, _) = entry;
            seed.deserialize(KeyName(key))
                .map(Some)
                .map_err(|error| error.at(key.pos).within(Seg::Key(key.name.clone())))
        }
        fn next_value_seed<T: DeserializeSeed<'de>>(
            &mut self,
            seed: T,
        ) -> Result<T::Value, DeError> {
            let Some((key, value)) = self.current else {
                return Err(DeError::message("a value was read before its key"));
            };
            seed.deserialize(value)
                .map_err(|error| error.at(value.pos).within(Seg::Key(key.name.clone())))
        }
        fn size_hint(&self) -> Option<usize> {
            Some(self.entries.len())
        }
    }
    visitor.visit_map(Entries {
        entries: entries.iter(),
        current: None,
    })
}

/// A map key, deserialized as the string it is.
struct KeyName<'de>(&'de Key);

impl<'de> de::Deserializer<'de> for KeyName<'de> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_borrowed_str(&self.0.name)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let name: StrDeserializer<'_, DeError> = self.0.name.as_str().into_deserializer();
        visitor.visit_enum(name)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct seq tuple tuple_struct map struct identifier ignored_any
    }
}

/// The `{variant: value}` form of an enum.
struct Variant<'de>(&'de (Key, Node));

impl<'de> EnumAccess<'de> for Variant<'de> {
    type Error = DeError;
    type Variant = &'de Node;

    fn variant_seed<S: DeserializeSeed<'de>>(
        self,
        seed: S,
    ) -> Result<(S::Value, &'de Node), DeError> {
        let (key, value) = self.0;
        let variant = seed
            .deserialize(KeyName(key))
            .map_err(|error| error.at(key.pos))?;
        Ok((variant, value))
    }
}

impl<'de> VariantAccess<'de> for &'de Node {
    type Error = DeError;

    fn unit_variant(self) -> Result<(), DeError> {
        match self.value {
            Value::Null => Ok(()),
            _ => Err(
                DeError::message(format!("expected nothing, got {}", self.describe())).at(self.pos),
            ),
        }
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, DeError> {
        seed.deserialize(self)
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, DeError> {
        de::Deserializer::deserialize_seq(self, visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        de::Deserializer::deserialize_map(self, visitor)
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::super::node::from_yaml_text;
    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Inner {
        port: u16,
        #[serde(default)]
        tags: Vec<String>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields, rename_all = "snake_case")]
    enum Color {
        Green,
        Blue,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Outer {
        name: String,
        color: Color,
        inner: Inner,
        count: Option<u32>,
    }

    fn node(text: &str) -> Node {
        from_yaml_text(text).unwrap()
    }

    #[test]
    fn reads_a_struct_with_plain_scalars_as_text() {
        let outer: Outer = collect(&node(
            "name: 2024\ncolor: green\ninner: { port: 80, tags: [a, 1] }\n",
        ))
        .unwrap();
        assert_eq!(outer.name, "2024");
        assert_eq!(outer.inner.tags, vec!["a", "1"]);
        assert_eq!(outer.count, None);
    }

    #[test]
    fn errors_carry_path_and_position() {
        let errors =
            collect::<Outer>(&node("name: x\ncolor: green\ninner:\n  port: eighty\n")).unwrap_err();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].path.to_string(), "inner.port");
        assert_eq!(errors[0].pos, Some(Pos { line: 4, column: 9 }));
        assert_eq!(
            errors[0].render(&[]),
            "expected a whole number, got \"eighty\""
        );
    }

    #[test]
    fn every_bad_field_is_reported() {
        let errors = collect::<Outer>(&node(
            "name: x\ncolour: green\ninner: { port: 1, tags: [a, [b]] }\ncount: -1\n",
        ))
        .unwrap_err();
        let rendered: Vec<String> = errors
            .iter()
            .map(|e| format!("{}: {}", e.path, e.render(&[])))
            .collect();
        assert_eq!(
            rendered,
            vec![
                "colour: unknown field \"colour\"; did you mean \"color\"?",
                "inner.tags[1]: expected a string, got a list",
                "count: expected a whole number, got -1",
            ]
        );
    }

    #[test]
    fn unknown_variants_suggest_the_closest() {
        let errors =
            collect::<Outer>(&node("name: x\ncolor: gren\ninner: { port: 1 }\n")).unwrap_err();
        assert_eq!(
            errors[0].render(&[]),
            "unknown value \"gren\"; did you mean \"green\"?"
        );
        assert_eq!(errors[0].pos, Some(Pos { line: 2, column: 8 }));
    }

    #[test]
    fn missing_fields_are_reported_at_the_map() {
        let errors = collect::<Outer>(&node("name: x\ncolor: blue\ninner: {}\n")).unwrap_err();
        assert_eq!(errors[0].path.to_string(), "inner");
        assert_eq!(errors[0].render(&[]), "missing required field `port`");
    }

    #[test]
    fn struct_fields_are_read_from_the_derive() {
        assert_eq!(struct_fields::<Inner>(), &["port", "tags"]);
    }

    #[test]
    fn paths_quote_unusual_keys() {
        let path = FieldPath::root().key("headers").key("x.y z").index(2);
        assert_eq!(path.to_string(), "headers[\"x.y z\"][2]");
    }
}
