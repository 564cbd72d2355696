//! greenlight's own functions as Lambda knows them: each registered in moto with the role the
//! template gives it and the template's `GREENLIGHT_FUNCTION` variable, so what reads the account
//! (`greenlight doctor`) finds them as it would in AWS. The rehearsal runs their code itself
//! ([`crate::lambda_host`]); moto only keeps the records (it cannot run code without Docker).

use serde_json::json;

use crate::driver::ecs::DriverError;
use crate::iam::RoleDefinition;
use crate::local_aws::{ACCOUNT_ID, LocalAws};
use crate::moto_client::Moto;
use crate::world::World;
use greenlight_core::catalogue::FUNCTION_IDENTITY_VAR;
use greenlight_core::config::resolve::ENV_VAR as CONFIG_ENV_VAR;

/// An empty zip archive (its end-of-central-directory record alone): moto keeps the code, never
/// runs it.
const EMPTY_ZIP_BASE64: &str = "UEsFBgAAAAAAAAAAAAAAAAAAAAAAAA==";

/// One function to register: its Lambda name and what greenlight calls it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionRecord {
    /// The Lambda function name (`greenlight-test-traffic`, `CodeDeployHook_greenlight_AfterInstall`).
    pub name: String,
    /// greenlight's name for it (`test-traffic`, `codedeploy-hook`).
    pub identity: String,
    /// `GREENLIGHT_CONFIG`, when the function reads its config from there (a file in its package).
    pub config_reference: Option<String>,
}

/// Registers `functions` in moto, each with its role (created in moto's IAM too, which Lambda
/// requires): the role the world's IAM runs it with, or a plain Lambda role when the world does not
/// enforce IAM. Registering a name twice is not an error.
pub async fn register(
    aws: &LocalAws,
    world: &World,
    functions: &[FunctionRecord],
) -> Result<(), DriverError> {
    let moto = Moto::new(aws.moto().endpoint_url());
    let roles: Vec<RoleDefinition> = world.iam().map(|iam| iam.roles()).unwrap_or_default();
    for function in functions {
        let mut variables = serde_json::Map::new();
        variables.insert(
            FUNCTION_IDENTITY_VAR.into(),
            function.identity.clone().into(),
        );
        if let Some(reference) = &function.config_reference {
            variables.insert(CONFIG_ENV_VAR.into(), reference.clone().into());
        }
        let (role_name, role_arn, trust) = match roles
            .iter()
            .find(|role| role.functions.contains(&function.name))
        {
            Some(role) => (
                role.name().to_owned(),
                role.arn.clone(),
                serde_json::to_value(&role.trust).unwrap_or_default(),
            ),
            None => {
                let name = "greenlight-rehearsal-function";
                (
                    name.to_owned(),
                    format!("arn:aws:iam::{ACCOUNT_ID}:role/{name}"),
                    json!({ "Statement": [{ "Effect": "Allow", "Principal": { "Service": "lambda.amazonaws.com" }, "Action": "sts:AssumeRole" }] }),
                )
            }
        };
        match moto
            .iam(
                "CreateRole",
                &[
                    ("RoleName", &role_name),
                    ("AssumeRolePolicyDocument", &trust.to_string()),
                ],
            )
            .await
        {
            Ok(_) => {}
            Err(error) if error.message.contains("EntityAlreadyExists") => {}
            Err(error) => return Err(error),
        }
        match moto
            .create_function(json!({
                "FunctionName": function.name,
                "Runtime": "provided.al2023",
                "Handler": "bootstrap",
                "Architectures": ["arm64"],
                "Role": role_arn,
                "Code": { "ZipFile": EMPTY_ZIP_BASE64 },
                "Timeout": 30,
                "Environment": { "Variables": variables },
            }))
            .await
        {
            Ok(_) => {}
            Err(error) if error.message.contains("ResourceConflictException") => {}
            Err(error) => return Err(error),
        }
    }
    Ok(())
}
