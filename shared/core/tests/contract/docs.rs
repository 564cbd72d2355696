//! The READMEs' generated tables match the code they are generated from.

use greenlight_core::catalogue::{checks_markdown_table, codes_markdown_table, iam_markdown_table};
use greenlight_test_support::repository_text;

fn between<'a>(text: &'a str, begin: &str, end: &str) -> &'a str {
    let start = text.find(begin).expect("begin marker") + begin.len();
    let stop = text[start..].find(end).expect("end marker") + start;
    text[start..stop].trim_start_matches('\n')
}

#[test]
fn readme_lists_every_reason_code_as_the_registry_does() {
    let readme = repository_text("README.md");
    let table = between(&readme, "<!-- codes:begin -->", "<!-- codes:end -->");
    assert_eq!(
        table,
        codes_markdown_table(),
        "the README's reason-code table is stale: run `make docs`"
    );
}

#[test]
fn readme_lists_every_check_as_the_registry_does() {
    let readme = repository_text("README.md");
    let table = between(&readme, "<!-- checks:begin -->", "<!-- checks:end -->");
    assert_eq!(
        table,
        checks_markdown_table(),
        "the README's check table is stale: run `make docs`"
    );
}

#[test]
fn infra_readme_lists_every_checks_iam_needs_as_their_docs_do() {
    let readme = repository_text("infra/README.md");
    let table = between(&readme, "<!-- iam:begin -->", "<!-- iam:end -->");
    assert_eq!(
        table,
        iam_markdown_table(),
        "infra/README.md's IAM table is stale: run `make docs`"
    );
}
