//! Which CodeDeploy deployment group deploys an ECS service: the group whose `ecsServices` name
//! the cluster and service. ECS does not list a CODE_DEPLOY service's deployments, so `status`
//! finds the newest one from the group's `lastAttemptedDeployment`, and `doctor` checks the
//! group's wiring.

use aws_sdk_codedeploy::Client as CodeDeploy;
use aws_sdk_codedeploy::types::DeploymentGroupInfo;

use crate::doctor::account::{Unreadable, unreadable};
use crate::doctor::short_name;

/// At most this many pages of applications or groups are read (100 names a page).
const MAX_PAGES: usize = 100;

/// The permissions [`find`] needs: read-only.
pub const PERMISSIONS: &[&str] = &[
    "codedeploy:ListApplications",
    "codedeploy:ListDeploymentGroups",
    "codedeploy:GetDeploymentGroup",
];

/// The group that deploys `cluster`/`service` (names or ARNs), searching `application` only when
/// given; `Ok(None)` when no group does.
pub async fn find(
    codedeploy: &CodeDeploy,
    cluster: &str,
    service: &str,
    application: Option<&str>,
) -> Result<Option<DeploymentGroupInfo>, Unreadable> {
    let cluster = short_name(cluster);
    let service = short_name(service);
    let applications = match application {
        Some(application) => vec![application.to_owned()],
        None => list_applications(codedeploy).await?,
    };
    for application in applications {
        for group in list_groups(codedeploy, &application).await? {
            let info = get(codedeploy, &application, &group).await?;
            let deploys = info.as_ref().is_some_and(|info| {
                info.ecs_services().iter().any(|ecs| {
                    ecs.service_name().map(short_name) == Some(service)
                        && ecs.cluster_name().map(short_name) == Some(cluster)
                })
            });
            if deploys {
                return Ok(info);
            }
        }
    }
    Ok(None)
}

/// One named group; `Ok(None)` when CodeDeploy has no such application or group.
pub async fn get(
    codedeploy: &CodeDeploy,
    application: &str,
    group: &str,
) -> Result<Option<DeploymentGroupInfo>, Unreadable> {
    match codedeploy
        .get_deployment_group()
        .application_name(application)
        .deployment_group_name(group)
        .send()
        .await
    {
        Ok(output) => Ok(output.deployment_group_info),
        Err(error)
            if matches!(
                crate::doctor::account::error_code(&error),
                Some("DeploymentGroupDoesNotExistException" | "ApplicationDoesNotExistException")
            ) =>
        {
            Ok(None)
        }
        Err(error) => Err(unreadable(
            "codedeploy:GetDeploymentGroup",
            &format!("{application}/{group}"),
            &error,
        )),
    }
}

/// The newest deployment the group knows of: its last attempted one, else its last successful.
pub fn last_deployment(group: &DeploymentGroupInfo) -> Option<String> {
    group
        .last_attempted_deployment()
        .or(group.last_successful_deployment())
        .and_then(|deployment| deployment.deployment_id())
        .map(str::to_owned)
}

async fn list_applications(codedeploy: &CodeDeploy) -> Result<Vec<String>, Unreadable> {
    let mut names = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let page = codedeploy
            .list_applications()
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|error| unreadable("codedeploy:ListApplications", "the account", &error))?;
        names.extend(page.applications().iter().cloned());
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    Ok(names)
}

async fn list_groups(
    codedeploy: &CodeDeploy,
    application: &str,
) -> Result<Vec<String>, Unreadable> {
    let mut names = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let page = codedeploy
            .list_deployment_groups()
            .application_name(application)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|error| unreadable("codedeploy:ListDeploymentGroups", application, &error))?;
        names.extend(page.deployment_groups().iter().cloned());
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    Ok(names)
}
