//! Reason codes about the greenlight config.

use crate::reason::ReasonCode;

/// The config does not parse or validate.
pub static CONFIG_INVALID: ReasonCode = ReasonCode {
    code: "CONFIG_INVALID",
    summary: "The greenlight config does not parse or validate.",
    what: "The config found for this hook (inline in hookDetails, by reference, or via GREENLIGHT_CONFIG) was parsed and validated against the schema.",
    why: "A config that does not mean what its author thinks could skip the checks they rely on; greenlight refuses it rather than guess.",
    fix: "Run `greenlight config validate FILE`; the message names the source, line and column, the field path and what is allowed.",
};

/// A config reference could not be read.
pub static CONFIG_UNREADABLE: ReasonCode = ReasonCode {
    code: "CONFIG_UNREADABLE",
    summary: "The config reference could not be read.",
    what: "The reference (a bundled file path, `ssm:` parameter or `s3://` object) named by greenlightConfig or GREENLIGHT_CONFIG was fetched.",
    why: "Without its config a service's checks are unknown; falling back to defaults silently would weaken them.",
    fix: "Check that the file, parameter or object exists and that the function's role may read it (ssm:GetParameter, s3:GetObject, kms:Decrypt for SecureString).",
};

/// A config reference is not of a supported form.
pub static CONFIG_REFERENCE_INVALID: ReasonCode = ReasonCode {
    code: "CONFIG_REFERENCE_INVALID",
    summary: "The config reference is not a file path, `ssm:` parameter or `s3://` object.",
    what: "The value of greenlightConfig or GREENLIGHT_CONFIG was parsed as a reference.",
    why: "greenlight cannot read a config from a place it does not understand.",
    fix: "Use `ssm:/path/to/parameter`, `s3://bucket/key.yaml`, or a path to a file bundled with the function.",
};

/// Every code of this family.
pub static ALL: &[&ReasonCode] = &[
    &CONFIG_INVALID,
    &CONFIG_UNREADABLE,
    &CONFIG_REFERENCE_INVALID,
];
