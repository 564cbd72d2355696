//! greenlight's contracts end to end, without AWS: the recorded events each service sends, one ECS
//! hook invocation from payload to answer, the engine across re-invocations, the example configs
//! and the generated tables in the READMEs. One binary; `cargo test -p greenlight-core` runs it
//! with the unit tests, quick to build because nothing here links an AWS SDK.
mod config_examples;
mod docs;
mod engine;
mod fixtures;
mod hook;
mod hostile;
mod image_reference;
