//! What the provider keeps between facts, and the SDK's shapes mapped to facts (pure).

use super::*;
// -------------------------------------------------------------------------------------------------
// What is kept between facts
// -------------------------------------------------------------------------------------------------

/// `DescribeServiceDeployments`' answer: the deployment facts (without the other deployments in
/// flight, which another call lists) and the source revisions blue is chosen from.
#[derive(Debug)]
pub(super) struct DescribedDeployment {
    pub(super) facts: DeploymentFacts,
    pub(super) sources: Vec<SourceRevision>,
    pub(super) hook_running: Option<bool>,
}

/// A revision the deployment moves traffic away from.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct SourceRevision {
    pub(super) arn: String,
    pub(super) production_weight: Option<f64>,
    pub(super) running: i32,
}

/// Green and blue, from one call.
#[derive(Debug)]
pub(super) struct Revisions {
    pub(super) green: Result<Arc<Revision>, FactError>,
    pub(super) blue: Result<Option<Arc<Revision>>, FactError>,
}

/// A revision's public facts and what routing needs besides.
#[derive(Debug, PartialEq)]
pub(super) struct Revision {
    pub(super) facts: Arc<RevisionFacts>,
    pub(super) load_balancers: RevisionLoadBalancers,
}

#[derive(Debug, Default, PartialEq)]
pub(super) struct RevisionLoadBalancers {
    /// What ECS resolved for this revision (absent early in a deployment).
    pub(super) resolved: Vec<ResolvedLoadBalancer>,
    /// The service's load balancer configuration as the revision carries it.
    pub(super) configured: Vec<ConfiguredLoadBalancer>,
    /// Where Service Connect clients reach the service, for the test header.
    pub(super) service_connect: Option<ServiceConnectAlias>,
}

#[derive(Debug, PartialEq)]
pub(super) struct ResolvedLoadBalancer {
    pub(super) target_group: Option<String>,
    pub(super) production_rule: Option<String>,
}

#[derive(Debug, PartialEq)]
pub(super) struct ConfiguredLoadBalancer {
    pub(super) target_group: Option<String>,
    pub(super) alternate_target_group: Option<String>,
    pub(super) production_rule: Option<String>,
    pub(super) test_rule: Option<String>,
}

#[derive(Debug, PartialEq)]
pub(super) struct ServiceConnectAlias {
    pub(super) host: String,
    pub(super) port: i32,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct ListenerFacts {
    pub(super) arn: String,
    pub(super) port: i32,
    pub(super) secure: bool,
    pub(super) load_balancer_arn: Option<String>,
    /// Target group → weight of the default action: where an NLB's blue/green weights live.
    pub(super) default_forwards: Vec<(String, f64)>,
}

impl ListenerFacts {
    /// The listener as the "rule" ECS names for an NLB: its default action, matching everything.
    pub(super) fn as_rule(&self) -> ListenerRuleFacts {
        ListenerRuleFacts {
            rule_arn: self.arn.clone(),
            listener_arn: self.arn.clone(),
            forwards: self.default_forwards.clone(),
            conditions: Vec::new(),
        }
    }
}

// -------------------------------------------------------------------------------------------------
// Mapping SDK shapes to facts (pure)
// -------------------------------------------------------------------------------------------------

/// Blue from the event's weight maps: the other revision they name, or of several the one with most
/// production (then test) traffic.
pub(super) fn blue_from_event(event: &HookEvent) -> Option<String> {
    let weight = |map: TrafficMap, arn: &str| event.weights(map).get(arn).copied().unwrap_or(0.0);
    event
        .blue_revisions()
        .into_iter()
        .rev()
        .max_by(|a, b| {
            let key = |arn: &str| {
                (
                    weight(TrafficMap::Production, arn),
                    weight(TrafficMap::Test, arn),
                )
            };
            key(a)
                .partial_cmp(&key(b))
                .unwrap_or(std::cmp::Ordering::Equal)
        })
        .map(str::to_owned)
}

/// Blue from the deployment's source revisions: the one with most production traffic, then most
/// running tasks. None on a service's first deployment.
pub(super) fn blue_from_sources(sources: &[SourceRevision], green_arn: &str) -> Option<String> {
    sources
        .iter()
        .filter(|source| source.arn != green_arn)
        .max_by(|a, b| {
            let key = |s: &SourceRevision| (s.production_weight.unwrap_or(0.0), s.running);
            key(a)
                .partial_cmp(&key(b))
                .unwrap_or(std::cmp::Ordering::Equal)
        })
        .map(|source| source.arn.clone())
}

pub(super) fn system_time(time: Option<&aws_smithy_types::DateTime>) -> Option<SystemTime> {
    time.and_then(|time| SystemTime::try_from(*time).ok())
}

pub(super) fn count(value: i32) -> u32 {
    u32::try_from(value).unwrap_or(0)
}

pub(super) fn described_deployment(
    deployment: &ServiceDeployment,
    arn: &str,
    function_arn: Option<&str>,
) -> Result<DescribedDeployment, FactError> {
    let Some(status) = deployment.status() else {
        return Err(FactError::Unexpected {
            action: "ecs:DescribeServiceDeployments".to_owned(),
            message: format!("deployment {arn} came back without a status"),
        });
    };
    let status = status.as_str().to_owned();
    let green_tasks = deployment
        .target_service_revision()
        .map(|target| TaskCounts {
            requested: count(target.requested_task_count()),
            running: count(target.running_task_count()),
            pending: count(target.pending_task_count()),
        })
        .unwrap_or_default();
    let (alarm_names, triggered_alarms) = deployment
        .alarms()
        .map(|alarms| {
            (
                split_alarm_names(alarms.alarm_names()),
                split_alarm_names(alarms.triggered_alarm_names()),
            )
        })
        .unwrap_or_default();
    let rollback = match deployment.rollback() {
        Some(rollback) => Some(
            rollback
                .reason()
                .filter(|reason| !reason.is_empty())
                .map(str::to_owned)
                .unwrap_or_else(|| format!("the deployment is {status}, no reason given")),
        ),
        None if status.starts_with("ROLLBACK_") => Some(format!("the deployment is {status}")),
        None => None,
    };
    let sources = deployment
        .source_service_revisions()
        .iter()
        .filter_map(|source| {
            Some(SourceRevision {
                arn: source.arn()?.to_owned(),
                production_weight: source.requested_production_traffic_weight(),
                running: source.running_task_count(),
            })
        })
        .collect();
    Ok(DescribedDeployment {
        facts: DeploymentFacts {
            id: arn.to_owned(),
            status,
            started_at: system_time(deployment.started_at()),
            green_tasks,
            alarm_names,
            triggered_alarms,
            rollback,
            hook_expires_at: hook_expiry(deployment.lifecycle_hook_details(), function_arn),
            other_in_flight: Vec::new(),
        },
        sources,
        hook_running: hook_running(deployment.lifecycle_hook_details(), function_arn),
    })
}

/// Whether the deployment lists this function's hook as in progress: `Some(true)` when one of its
/// hooks is, `Some(false)` when it lists the function's hooks and none is, `None` when the function
/// is not known or not listed (whether ECS lists a hook while invoking it is undocumented).
pub(super) fn hook_running(
    hooks: &[DeploymentLifecycleHookDetail],
    function_arn: Option<&str>,
) -> Option<bool> {
    let function = unqualified_function(function_arn?);
    let mine: Vec<&DeploymentLifecycleHookDetail> = hooks
        .iter()
        .filter(|hook| {
            hook.target_arn()
                .is_some_and(|target| unqualified_function(target) == function)
        })
        .collect();
    if mine.is_empty() {
        return None;
    }
    Some(
        mine.iter()
            .any(|hook| hook.status() == Some(&DeploymentLifecycleHookStatus::InProgress)),
    )
}

/// A Lambda ARN without its version or alias qualifier.
pub(super) fn unqualified_function(arn: &str) -> &str {
    // arn:partition:lambda:region:account:function:name[:qualifier]
    match arn.match_indices(':').nth(6) {
        Some((cut, _)) => &arn[..cut],
        None => arn,
    }
}

/// This hook's expiry: the hook whose target is this function, or, when the function is not known,
/// the only Lambda hook in progress. None when it cannot be told apart from others.
pub(super) fn hook_expiry(
    hooks: &[DeploymentLifecycleHookDetail],
    function_arn: Option<&str>,
) -> Option<SystemTime> {
    let lambda_hooks = hooks
        .iter()
        .filter(|hook| hook.target_type() != Some(&DeploymentLifecycleHookTargetType::Pause));
    let mine: Vec<&DeploymentLifecycleHookDetail> = match function_arn {
        Some(function) => lambda_hooks
            .filter(|hook| {
                hook.target_arn().is_some_and(|target| {
                    unqualified_function(target) == unqualified_function(function)
                })
            })
            .collect(),
        None => lambda_hooks
            .filter(|hook| hook.status() == Some(&DeploymentLifecycleHookStatus::InProgress))
            .collect(),
    };
    // The same function may be hooked at several stages; the one running now is in progress. A
    // finished entry is an earlier stage's (whether ECS lists the running hook is undocumented):
    // its expiry says nothing about this one.
    let running: Vec<&&DeploymentLifecycleHookDetail> = mine
        .iter()
        .filter(|hook| hook.status() == Some(&DeploymentLifecycleHookStatus::InProgress))
        .collect();
    match running.as_slice() {
        [hook] => system_time(hook.expires_at()),
        _ => None,
    }
}

pub(super) fn revision_from(revision: &ServiceRevision, arn: &str) -> Result<Revision, FactError> {
    let Some(task_definition) = revision.task_definition().filter(|td| !td.is_empty()) else {
        return Err(FactError::Unexpected {
            action: "ecs:DescribeServiceRevisions".to_owned(),
            message: format!("revision {arn} came back without a task definition"),
        });
    };
    let containers = revision
        .container_images()
        .iter()
        .filter_map(|image| {
            Some(ContainerImage {
                digest_by_consensus: false,
                container: image.container_name()?.to_owned(),
                image: image.image()?.to_owned(),
                digest: image
                    .image_digest()
                    .filter(|digest| !digest.is_empty())
                    .map(str::to_owned),
            })
        })
        .collect();
    let resolved: Vec<ResolvedLoadBalancer> = revision
        .resolved_configuration()
        .map(|resolved| resolved.load_balancers())
        .unwrap_or_default()
        .iter()
        .map(|lb| ResolvedLoadBalancer {
            target_group: lb.target_group_arn().map(str::to_owned),
            production_rule: lb.production_listener_rule().map(str::to_owned),
        })
        .collect();
    let configured: Vec<ConfiguredLoadBalancer> = revision
        .load_balancers()
        .iter()
        .map(|lb| {
            let advanced = lb.advanced_configuration();
            ConfiguredLoadBalancer {
                target_group: lb.target_group_arn().map(str::to_owned),
                alternate_target_group: advanced
                    .and_then(|a| a.alternate_target_group_arn())
                    .map(str::to_owned),
                production_rule: advanced
                    .and_then(|a| a.production_listener_rule())
                    .map(str::to_owned),
                test_rule: advanced
                    .and_then(|a| a.test_listener_rule())
                    .map(str::to_owned),
            }
        })
        .collect();
    let target_group_arns = revision_target_groups(&resolved, &configured);
    let (test_header, service_connect) =
        service_connect_test(revision.service_connect_configuration());
    Ok(Revision {
        facts: Arc::new(RevisionFacts {
            arn: arn.to_owned(),
            task_definition_arn: task_definition.to_owned(),
            containers,
            target_group_arns,
            test_header,
        }),
        load_balancers: RevisionLoadBalancers {
            resolved,
            configured,
            service_connect,
        },
    })
}

/// The target groups a revision serves from: what ECS resolved; else the configured groups that have
/// no alternate. A blue/green pair is left out until resolved, because which of the two is this
/// revision's changes from one deployment to the next.
pub(super) fn revision_target_groups(
    resolved: &[ResolvedLoadBalancer],
    configured: &[ConfiguredLoadBalancer],
) -> Vec<String> {
    let mut groups: Vec<String> = resolved
        .iter()
        .filter_map(|lb| lb.target_group.clone())
        .collect();
    if groups.is_empty() {
        groups = configured
            .iter()
            .filter(|lb| lb.alternate_target_group.is_none())
            .filter_map(|lb| lb.target_group.clone())
            .collect();
    }
    groups.dedup();
    groups
}

/// The Service Connect test header and where clients reach the service. A test rule's header wins;
/// a Service Connect service without one gets ECS's default header, matched on presence.
pub(super) fn service_connect_test(
    config: Option<&ServiceConnectConfiguration>,
) -> (Option<HeaderMatch>, Option<ServiceConnectAlias>) {
    let Some(config) = config.filter(|config| config.enabled()) else {
        return (None, None);
    };
    // The model: `dnsName` defaults to `discoveryName.namespace`, else `portName.namespace`.
    let namespace = config
        .namespace()
        .filter(|namespace| !namespace.is_empty() && !namespace.starts_with("arn:"));
    let aliases = config.services().iter().flat_map(move |service| {
        let name = service
            .discovery_name()
            .filter(|name| !name.is_empty())
            .unwrap_or(service.port_name());
        let default_host = match namespace {
            Some(namespace) => format!("{name}.{namespace}"),
            None => name.to_owned(),
        };
        service.client_aliases().iter().map(move |alias| {
            let host = alias
                .dns_name()
                .filter(|name| !name.is_empty())
                .map_or_else(|| default_host.clone(), str::to_owned);
            (alias, host)
        })
    });
    let mut first_alias = None;
    for (alias, host) in aliases {
        let endpoint = ServiceConnectAlias {
            host,
            port: alias.port(),
        };
        if let Some(rules) = alias.test_traffic_rules() {
            let header = match rules.header() {
                Some(header) => HeaderMatch {
                    name: header.name().to_owned(),
                    value: header
                        .value()
                        .map(|value| value.exact().to_owned())
                        .unwrap_or_else(|| PRESENCE_HEADER_VALUE.to_owned()),
                },
                None => default_test_header(),
            };
            return (Some(header), Some(endpoint));
        }
        first_alias.get_or_insert(endpoint);
    }
    match first_alias {
        Some(endpoint) => (Some(default_test_header()), Some(endpoint)),
        None => (None, None),
    }
}

pub(super) fn default_test_header() -> HeaderMatch {
    HeaderMatch {
        name: DEFAULT_TEST_HEADER.to_owned(),
        value: PRESENCE_HEADER_VALUE.to_owned(),
    }
}

/// `arn:…:listener-rule/app/<lb>/<lb-id>/<listener-id>/<rule-id>` → `arn:…:listener/app/<lb>/<lb-id>/<listener-id>`.
pub(super) fn listener_arn_of_rule(rule_arn: &str) -> Result<String, FactError> {
    // An NLB's "rule" is its listener.
    if is_listener_arn(rule_arn) {
        return Ok(rule_arn.to_owned());
    }
    rule_arn
        .split_once(":listener-rule/")
        .and_then(|(prefix, path)| {
            let (listener_path, _rule_id) = path.rsplit_once('/')?;
            (listener_path.split('/').count() == 4)
                .then(|| format!("{prefix}:listener/{listener_path}"))
        })
        .ok_or_else(|| FactError::Unexpected {
            action: "elasticloadbalancing:DescribeRules".to_owned(),
            message: format!("{rule_arn} is not a listener rule ARN"),
        })
}

/// Alarm names from a ServiceDeployment's `alarms`: botocore's ECS model types them as a list yet
/// documents "A ',' separates the alarms", so one element may hold several names. Splitting on
/// commas gives the same names under both readings for every alarm name without a comma; the
/// price is that an alarm whose own name contains a comma (CloudWatch allows it) is not found,
/// which the alarms check reports rather than passes. See docs/aws-contracts.md.
pub(super) fn split_alarm_names(names: &[String]) -> Vec<String> {
    let mut split: Vec<String> = names
        .iter()
        .flat_map(|entry| entry.split(','))
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(str::to_owned)
        .collect();
    split.dedup();
    split
}

/// Whether `arn` names a listener (`…:listener/net/…`), as ECS's `productionListenerRule` does
/// for a Network Load Balancer, rather than a listener rule.
pub(super) fn is_listener_arn(arn: &str) -> bool {
    arn.contains(":listener/")
}

/// `arn:…:listener/app/<lb>/<lb-id>/<listener-id>` → `arn:…:loadbalancer/app/<lb>/<lb-id>`.
pub(super) fn load_balancer_arn_of_listener(listener_arn: &str) -> Result<String, FactError> {
    listener_arn
        .split_once(":listener/")
        .and_then(|(prefix, path)| {
            let (lb_path, _listener_id) = path.rsplit_once('/')?;
            (lb_path.split('/').count() == 3).then(|| format!("{prefix}:loadbalancer/{lb_path}"))
        })
        .ok_or_else(|| FactError::Unexpected {
            action: "elasticloadbalancing:DescribeListeners".to_owned(),
            message: format!("{listener_arn} is not a listener ARN"),
        })
}

/// Target group → weight of the forward actions among `actions`.
pub(super) fn forwards_of(actions: &[Action]) -> Vec<(String, f64)> {
    let mut forwards: Vec<(String, f64)> = Vec::new();
    for action in actions
        .iter()
        .filter(|action| action.r#type() == Some(&ActionTypeEnum::Forward))
    {
        match action.forward_config() {
            Some(config) if !config.target_groups().is_empty() => {
                for group in config.target_groups() {
                    if let Some(arn) = group.target_group_arn() {
                        // ELB's default weight is 1.
                        forwards.push((arn.to_owned(), f64::from(group.weight().unwrap_or(1))));
                    }
                }
            }
            _ => {
                if let Some(arn) = action.target_group_arn() {
                    forwards.push((arn.to_owned(), 1.0));
                }
            }
        }
    }
    forwards
}

pub(super) fn rule_facts(rule: &Rule, rule_arn: &str) -> Result<ListenerRuleFacts, FactError> {
    let forwards = forwards_of(rule.actions());
    let conditions = rule
        .conditions()
        .iter()
        .map(|condition| {
            let field = condition.field().unwrap_or_default();
            // The typed configs replace the legacy `Values`; read either.
            let pick = |typed: Option<&[String]>| -> Vec<String> {
                match typed {
                    Some(values) if !values.is_empty() => values.to_vec(),
                    _ => condition.values().to_vec(),
                }
            };
            match field {
                "host-header" => {
                    let values = pick(condition.host_header_config().map(|c| c.values()));
                    if values.is_empty() {
                        RuleCondition::Other("host-header (regex)".to_owned())
                    } else {
                        RuleCondition::Host(values)
                    }
                }
                "path-pattern" => {
                    let values = pick(condition.path_pattern_config().map(|c| c.values()));
                    if values.is_empty() {
                        RuleCondition::Other("path-pattern (regex)".to_owned())
                    } else {
                        RuleCondition::Path(values)
                    }
                }
                "http-header" => match condition.http_header_config() {
                    Some(config) if !config.values().is_empty() => RuleCondition::Header {
                        name: config.http_header_name().unwrap_or_default().to_owned(),
                        values: config.values().to_vec(),
                    },
                    _ => RuleCondition::Other("http-header (regex)".to_owned()),
                },
                other => RuleCondition::Other(other.to_owned()),
            }
        })
        .collect();
    Ok(ListenerRuleFacts {
        rule_arn: rule_arn.to_owned(),
        listener_arn: listener_arn_of_rule(rule_arn)?,
        forwards,
        conditions,
    })
}

/// How green's target group was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TargetGroupSource {
    /// ECS resolved it for the green revision (or the service has a single group).
    Resolved,
    /// The member of the configured pair where green's running tasks are registered.
    RegisteredTasks,
    /// Nothing said which one is green.
    Unknown,
}

impl TargetGroupSource {
    pub(super) fn describe(self) -> &'static str {
        match self {
            TargetGroupSource::Resolved => "resolved by ECS",
            TargetGroupSource::RegisteredTasks => {
                "inferred: the configured pair member where green's running tasks are registered"
            }
            TargetGroupSource::Unknown => {
                "unknown: not resolved, and green's tasks are not registered in exactly one group"
            }
        }
    }
}

#[derive(Debug, PartialEq)]
pub(super) struct TargetGroups {
    pub(super) green: Option<String>,
    pub(super) blue: Option<String>,
    pub(super) source: TargetGroupSource,
}

/// Green's and blue's target groups: resolved when ECS has; else the member of the configured pair
/// where green's running tasks are registered (`registered_in`, for the pair's two members), when
/// exactly one is. Never the listener rule's weights: `routing` and `compare` judge those, and a
/// group read off them would make a rule sending everything to blue look right.
pub(super) fn assign_target_groups(
    green_resolved: Option<String>,
    blue_resolved: Option<String>,
    pair: Option<(String, String)>,
    registered_in: Option<[bool; 2]>,
) -> TargetGroups {
    let other_of = |green: &str| {
        pair.as_ref().and_then(|(a, b)| {
            if a == green {
                Some(b.clone())
            } else if b == green {
                Some(a.clone())
            } else {
                None
            }
        })
    };
    if let Some(green) = green_resolved {
        let blue = blue_resolved
            .filter(|blue| *blue != green)
            .or_else(|| other_of(&green));
        return TargetGroups {
            green: Some(green),
            blue,
            source: TargetGroupSource::Resolved,
        };
    }
    let inferred = match (pair, registered_in) {
        (Some((a, b)), Some([true, false])) => Some((a, b)),
        (Some((a, b)), Some([false, true])) => Some((b, a)),
        _ => None,
    };
    match inferred {
        Some((green, blue)) => TargetGroups {
            green: Some(green),
            blue: Some(blue),
            source: TargetGroupSource::RegisteredTasks,
        },
        None => TargetGroups {
            green: None,
            blue: blue_resolved,
            source: TargetGroupSource::Unknown,
        },
    }
}

/// A literal that an ELB wildcard pattern matches: `*` becomes `fill`, `?` one character.
pub(super) fn literal(pattern: &str, fill: &str) -> String {
    pattern
        .chars()
        .map(|c| match c {
            '*' => fill.to_owned(),
            '?' => "x".to_owned(),
            other => other.to_string(),
        })
        .collect()
}

/// Where test traffic reaches green through the test listener, with a host, path and headers that
/// satisfy the test rule's conditions.
pub(super) fn alb_test_endpoint(
    rule: &ListenerRuleFacts,
    listener: &ListenerFacts,
    dns: &str,
) -> TestEndpoint {
    let scheme = if listener.secure { "https" } else { "http" };
    let mut endpoint = TestEndpoint {
        base_url: format!("{scheme}://{dns}:{}", listener.port),
        host: None,
        path: None,
        headers: Vec::new(),
    };
    for condition in &rule.conditions {
        match condition {
            RuleCondition::Host(values) => {
                // A plain host if there is one; else a wildcard's match (`*.example.com` →
                // `test.example.com`, a valid host where dropping the `*` would not be).
                let host = values
                    .iter()
                    .find(|value| !value.contains(['*', '?']))
                    .or(values.first())
                    .map(|value| literal(value, "test"));
                endpoint.host = endpoint.host.or(host);
            }
            RuleCondition::Path(values) => {
                let path = values.first().map(|value| {
                    let path = literal(value, "");
                    if path.starts_with('/') {
                        path
                    } else {
                        format!("/{path}")
                    }
                });
                endpoint.path = endpoint.path.or(path);
            }
            RuleCondition::Header { name, values } => {
                if let Some(value) = values.first() {
                    let value = literal(value, "");
                    endpoint.headers.push(HeaderMatch {
                        name: name.clone(),
                        value: if value.is_empty() {
                            "test".to_owned()
                        } else {
                            value
                        },
                    });
                }
            }
            RuleCondition::Other(_) => {}
        }
    }
    endpoint
}
