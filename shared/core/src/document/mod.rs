//! The building blocks of a config document, below both the checks (whose params are written in
//! it) and the config that assembles them: the located tree every YAML or JSON document is read
//! into (`node`), serde over that tree with field paths (`de`), the value types people write
//! (`90s`, `1%`, `0.5pp`, `2xx`, `p99`: [`values`]), "did you mean" suggestions, and `Issue`, a
//! problem found at a path.

pub mod codes;
pub(crate) mod de;
mod issue;
pub(crate) mod node;
pub(crate) mod suggest;
pub mod values;

pub(crate) use issue::Issue;
