//! A reader of CloudWatch Embedded Metric Format records, held to the published specification
//! (*Amazon CloudWatch User Guide, Specification: Embedded metric format*), so that tests check
//! what CloudWatch Logs would extract rather than the shape the product happens to write.
//!
//! The rules checked: the root is an object with `_aws`; `_aws.Timestamp` is a number of
//! milliseconds since the epoch; `_aws.CloudWatchMetrics` is an array of metric directives, each
//! with a `Namespace` (1–1024 characters), `Dimensions` (an array of dimension sets, each an array
//! of at most 30 keys; an empty set, which the specification neither allows nor forbids, is read
//! as a metric without dimensions) and `Metrics` (at most 100 definitions, each with a
//! `Name` of 1–1024 characters and, if present, a `Unit` CloudWatch knows); every dimension key is
//! a string member of the root (a value of 1–1024 characters); every metric is a number member of
//! the root, or an array of at most 100 numbers.

use serde_json::Value;

/// The units CloudWatch accepts (`StandardUnit` in the CloudWatch API).
pub const UNITS: &[&str] = &[
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
];

/// One metric value a record carries: its namespace, name, unit and the dimensions of one of its
/// dimension sets, with the values.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricDatum {
    /// The namespace.
    pub namespace: String,
    /// The metric's name.
    pub name: String,
    /// Its unit (`None` when the record gives none).
    pub unit: String,
    /// The dimensions of this datum, `(key, value)`, in the set's order.
    pub dimensions: Vec<(String, String)>,
    /// The values (one, or the array the record holds).
    pub values: Vec<f64>,
}

/// Reads `record` as CloudWatch Logs would: every datum it would extract, one per metric and
/// dimension set. An error names the first rule the record breaks.
pub fn extract(record: &Value) -> Result<Vec<MetricDatum>, String> {
    let root = record
        .as_object()
        .ok_or("the record is not a JSON object")?;
    let metadata = root
        .get("_aws")
        .and_then(Value::as_object)
        .ok_or("no `_aws` metadata object")?;
    let timestamp = metadata
        .get("Timestamp")
        .ok_or("`_aws.Timestamp` is missing")?;
    if !timestamp.is_u64() {
        return Err(format!(
            "`_aws.Timestamp` is not milliseconds since the epoch: {timestamp}"
        ));
    }
    let directives = metadata
        .get("CloudWatchMetrics")
        .and_then(Value::as_array)
        .ok_or("`_aws.CloudWatchMetrics` is not an array")?;
    let mut data = Vec::new();
    for (index, directive) in directives.iter().enumerate() {
        let at = format!("CloudWatchMetrics[{index}]");
        let namespace = directive["Namespace"]
            .as_str()
            .filter(|name| (1..=1024).contains(&name.chars().count()))
            .ok_or(format!("{at}.Namespace is not a 1–1024 character string"))?;
        let sets = directive["Dimensions"]
            .as_array()
            .ok_or(format!("{at}.Dimensions is not an array"))?;
        let mut dimension_sets = Vec::new();
        for (set_index, set) in sets.iter().enumerate() {
            let keys = set
                .as_array()
                .ok_or(format!("{at}.Dimensions[{set_index}] is not an array"))?;
            if keys.len() > 30 {
                return Err(format!(
                    "{at}.Dimensions[{set_index}] has {} keys (at most 30)",
                    keys.len()
                ));
            }
            let mut dimensions = Vec::new();
            for key in keys {
                let key = key
                    .as_str()
                    .ok_or(format!("{at}.Dimensions[{set_index}] holds a non-string"))?;
                let value = root
                    .get(key)
                    .and_then(Value::as_str)
                    .filter(|value| (1..=1024).contains(&value.chars().count()))
                    .ok_or(format!(
                        "dimension `{key}` is not a 1–1024 character string member of the root"
                    ))?;
                dimensions.push((key.to_owned(), value.to_owned()));
            }
            dimension_sets.push(dimensions);
        }
        let metrics = directive["Metrics"]
            .as_array()
            .ok_or(format!("{at}.Metrics is not an array"))?;
        if metrics.len() > 100 {
            return Err(format!("{at}.Metrics has {} (at most 100)", metrics.len()));
        }
        for metric in metrics {
            let name = metric["Name"]
                .as_str()
                .filter(|name| (1..=1024).contains(&name.chars().count()))
                .ok_or(format!("{at}.Metrics holds a metric without a valid Name"))?;
            let unit = match metric.get("Unit") {
                None => "None",
                Some(unit) => unit
                    .as_str()
                    .filter(|unit| UNITS.contains(unit))
                    .ok_or(format!(
                        "metric `{name}` has unit {unit}, not a CloudWatch unit"
                    ))?,
            };
            let values = match root.get(name) {
                Some(Value::Number(number)) => vec![number.as_f64().unwrap_or(f64::NAN)],
                Some(Value::Array(items)) if !items.is_empty() && items.len() <= 100 => items
                    .iter()
                    .map(|item| {
                        item.as_f64()
                            .ok_or(format!("metric `{name}` holds a non-number"))
                    })
                    .collect::<Result<_, _>>()?,
                _ => {
                    return Err(format!(
                        "metric `{name}` is not a number (or an array of 1–100 numbers) member of the root"
                    ));
                }
            };
            for dimensions in &dimension_sets {
                data.push(MetricDatum {
                    namespace: namespace.to_owned(),
                    name: name.to_owned(),
                    unit: unit.to_owned(),
                    dimensions: dimensions.clone(),
                    values: values.clone(),
                });
            }
        }
    }
    Ok(data)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn record() -> Value {
        json!({
            "_aws": { "Timestamp": 1_700_000_000_000_u64, "CloudWatchMetrics": [{
                "Namespace": "greenlight",
                "Dimensions": [["Service"], []],
                "Metrics": [{ "Name": "Latency", "Unit": "Milliseconds" }],
            }]},
            "Service": "web",
            "Latency": [12, 30],
        })
    }

    #[test]
    fn a_valid_record_gives_one_datum_per_metric_and_dimension_set() {
        let data = extract(&record()).expect("valid");
        assert_eq!(data.len(), 2);
        assert_eq!(data[0].dimensions, vec![("Service".into(), "web".into())]);
        assert!(data[1].dimensions.is_empty());
        assert_eq!(data[0].values, vec![12.0, 30.0]);
    }

    #[test]
    fn each_broken_rule_is_named() {
        let broken = |edit: &dyn Fn(&mut Value), expected: &str| {
            let mut record = record();
            edit(&mut record);
            let error = extract(&record).expect_err(expected);
            assert!(error.contains(expected), "{error}");
        };
        broken(
            &|record| record["_aws"]["Timestamp"] = json!("now"),
            "Timestamp",
        );
        broken(
            &|record| record["Service"] = json!(3),
            "dimension `Service`",
        );
        broken(
            &|record| record["Latency"] = json!("12"),
            "metric `Latency`",
        );
        broken(
            &|record| record["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Unit"] = json!("ms"),
            "not a CloudWatch unit",
        );
        broken(
            &|record| record["_aws"]["CloudWatchMetrics"][0]["Namespace"] = json!(""),
            "Namespace",
        );
        broken(
            &|record| {
                record
                    .as_object_mut()
                    .unwrap()
                    .retain(|key, _| key != "_aws")
            },
            "_aws",
        );
    }
}
