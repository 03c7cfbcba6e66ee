//! Single message transforms and predicates: every built-in Kafka Connect
//! transform (with its `$Key` / `$Value` variants), Kafka Connect's
//! predicates, and Debezium's ExtractNewRecordState, ByLogicalTableRouter
//! and outbox EventRouter, under their Java class names and short aliases,
//! so that existing connector JSON (including `transforms.*` chains) works
//! unchanged.
//!
//! [`catalog`] is the one list of what exists: [`register`] adds it to the
//! registry, and [`reference_pages`] renders docs/transforms.md (an index) and
//! a page per transform under docs/transforms/ from the
//! same config declarations (a test keeps the file current).
//!
//! Schemaful transforms derive each output schema once per distinct input
//! schema ([`util::SchemaCache`]); per record they only move values.

use sluice_api::config::ConfigDef;
use sluice_api::{Predicate, Registry, Transform};

pub mod by_logical_table_router;
pub mod cast;
pub mod datetime;
pub mod drop_headers;
pub mod extract_field;
pub mod extract_new_record_state;
pub mod filter;
pub mod flatten;
pub mod header_from;
pub mod hoist_field;
pub mod insert_field;
pub mod insert_header;
pub mod mask_field;
pub mod outbox_event_router;
pub mod predicates;
pub mod regex_router;
pub mod replace_field;
pub mod set_schema_metadata;
pub mod timestamp_converter;
pub mod timestamp_router;
pub mod util;
pub mod value_to_key;

use util::Target;

/// How to make one plugin.
#[derive(Clone, Copy)]
pub enum Factory {
    Transform(fn() -> Box<dyn Transform>),
    Predicate(fn() -> Box<dyn Predicate>),
}

/// One built-in plugin: its class name, aliases, summary and config.
#[derive(Clone, Copy)]
pub struct PluginInfo {
    pub class: &'static str,
    pub aliases: &'static [&'static str],
    pub doc: &'static str,
    pub config_def: fn() -> ConfigDef,
    pub factory: Factory,
}

macro_rules! t {
    ($class:expr, [$($alias:expr),*], $doc:expr, $def:expr, $make:expr) => {
        PluginInfo {
            class: $class,
            aliases: &[$($alias),*],
            doc: $doc,
            config_def: $def,
            factory: Factory::Transform(|| Box::new($make)),
        }
    };
}

macro_rules! p {
    ($class:expr, [$($alias:expr),*], $doc:expr, $def:expr, $make:expr) => {
        PluginInfo {
            class: $class,
            aliases: &[$($alias),*],
            doc: $doc,
            config_def: $def,
            factory: Factory::Predicate(|| Box::new($make)),
        }
    };
}

/// Every built-in transform and predicate, in documentation order.
pub fn catalog() -> Vec<PluginInfo> {
    use Target::{Key, Value};
    vec![
        t!(
            "org.apache.kafka.connect.transforms.Cast$Key",
            ["Cast$Key"],
            cast::DOC,
            cast::config_def,
            cast::Cast::new(Key)
        ),
        t!(
            "org.apache.kafka.connect.transforms.Cast$Value",
            ["Cast$Value"],
            cast::DOC,
            cast::config_def,
            cast::Cast::new(Value)
        ),
        t!(
            "org.apache.kafka.connect.transforms.DropHeaders",
            ["DropHeaders"],
            drop_headers::DOC,
            drop_headers::config_def,
            drop_headers::DropHeaders::default()
        ),
        t!(
            "org.apache.kafka.connect.transforms.ExtractField$Key",
            ["ExtractField$Key"],
            extract_field::DOC,
            extract_field::config_def,
            extract_field::ExtractField::new(Key)
        ),
        t!(
            "org.apache.kafka.connect.transforms.ExtractField$Value",
            ["ExtractField$Value"],
            extract_field::DOC,
            extract_field::config_def,
            extract_field::ExtractField::new(Value)
        ),
        t!(
            "org.apache.kafka.connect.transforms.Filter",
            ["Filter"],
            filter::DOC,
            filter::config_def,
            filter::Filter
        ),
        t!(
            "org.apache.kafka.connect.transforms.Flatten$Key",
            ["Flatten$Key"],
            flatten::DOC,
            flatten::config_def,
            flatten::Flatten::new(Key)
        ),
        t!(
            "org.apache.kafka.connect.transforms.Flatten$Value",
            ["Flatten$Value"],
            flatten::DOC,
            flatten::config_def,
            flatten::Flatten::new(Value)
        ),
        t!(
            "org.apache.kafka.connect.transforms.HeaderFrom$Key",
            ["HeaderFrom$Key"],
            header_from::DOC,
            header_from::config_def,
            header_from::HeaderFrom::new(Key)
        ),
        t!(
            "org.apache.kafka.connect.transforms.HeaderFrom$Value",
            ["HeaderFrom$Value"],
            header_from::DOC,
            header_from::config_def,
            header_from::HeaderFrom::new(Value)
        ),
        t!(
            "org.apache.kafka.connect.transforms.HoistField$Key",
            ["HoistField$Key"],
            hoist_field::DOC,
            hoist_field::config_def,
            hoist_field::HoistField::new(Key)
        ),
        t!(
            "org.apache.kafka.connect.transforms.HoistField$Value",
            ["HoistField$Value"],
            hoist_field::DOC,
            hoist_field::config_def,
            hoist_field::HoistField::new(Value)
        ),
        t!(
            "org.apache.kafka.connect.transforms.InsertField$Key",
            ["InsertField$Key"],
            insert_field::DOC,
            insert_field::config_def,
            insert_field::InsertField::new(Key)
        ),
        t!(
            "org.apache.kafka.connect.transforms.InsertField$Value",
            ["InsertField$Value"],
            insert_field::DOC,
            insert_field::config_def,
            insert_field::InsertField::new(Value)
        ),
        t!(
            "org.apache.kafka.connect.transforms.InsertHeader",
            ["InsertHeader"],
            insert_header::DOC,
            insert_header::config_def,
            insert_header::InsertHeader::default()
        ),
        t!(
            "org.apache.kafka.connect.transforms.MaskField$Key",
            ["MaskField$Key"],
            mask_field::DOC,
            mask_field::config_def,
            mask_field::MaskField::new(Key)
        ),
        t!(
            "org.apache.kafka.connect.transforms.MaskField$Value",
            ["MaskField$Value"],
            mask_field::DOC,
            mask_field::config_def,
            mask_field::MaskField::new(Value)
        ),
        t!(
            "org.apache.kafka.connect.transforms.RegexRouter",
            ["RegexRouter"],
            regex_router::DOC,
            regex_router::config_def,
            regex_router::RegexRouter::default()
        ),
        t!(
            "org.apache.kafka.connect.transforms.ReplaceField$Key",
            ["ReplaceField$Key"],
            replace_field::DOC,
            replace_field::config_def,
            replace_field::ReplaceField::new(Key)
        ),
        t!(
            "org.apache.kafka.connect.transforms.ReplaceField$Value",
            ["ReplaceField$Value"],
            replace_field::DOC,
            replace_field::config_def,
            replace_field::ReplaceField::new(Value)
        ),
        t!(
            "org.apache.kafka.connect.transforms.SetSchemaMetadata$Key",
            ["SetSchemaMetadata$Key"],
            set_schema_metadata::DOC,
            set_schema_metadata::config_def,
            set_schema_metadata::SetSchemaMetadata::new(Key)
        ),
        t!(
            "org.apache.kafka.connect.transforms.SetSchemaMetadata$Value",
            ["SetSchemaMetadata$Value"],
            set_schema_metadata::DOC,
            set_schema_metadata::config_def,
            set_schema_metadata::SetSchemaMetadata::new(Value)
        ),
        t!(
            "org.apache.kafka.connect.transforms.TimestampConverter$Key",
            ["TimestampConverter$Key"],
            timestamp_converter::DOC,
            timestamp_converter::config_def,
            timestamp_converter::TimestampConverter::new(Key)
        ),
        t!(
            "org.apache.kafka.connect.transforms.TimestampConverter$Value",
            ["TimestampConverter$Value"],
            timestamp_converter::DOC,
            timestamp_converter::config_def,
            timestamp_converter::TimestampConverter::new(Value)
        ),
        t!(
            "org.apache.kafka.connect.transforms.TimestampRouter",
            ["TimestampRouter"],
            timestamp_router::DOC,
            timestamp_router::config_def,
            timestamp_router::TimestampRouter::default()
        ),
        t!(
            "org.apache.kafka.connect.transforms.ValueToKey",
            ["ValueToKey"],
            value_to_key::DOC,
            value_to_key::config_def,
            value_to_key::ValueToKey::default()
        ),
        p!(
            "org.apache.kafka.connect.transforms.predicates.TopicNameMatches",
            ["TopicNameMatches"],
            predicates::TOPIC_NAME_MATCHES_DOC,
            predicates::topic_name_matches_def,
            predicates::TopicNameMatches::default()
        ),
        p!(
            "org.apache.kafka.connect.transforms.predicates.HasHeaderKey",
            ["HasHeaderKey"],
            predicates::HAS_HEADER_KEY_DOC,
            predicates::has_header_key_def,
            predicates::HasHeaderKey::default()
        ),
        p!(
            "org.apache.kafka.connect.transforms.predicates.RecordIsTombstone",
            ["RecordIsTombstone"],
            predicates::RECORD_IS_TOMBSTONE_DOC,
            ConfigDef::new,
            predicates::RecordIsTombstone
        ),
        t!(
            "io.debezium.transforms.ExtractNewRecordState",
            ["ExtractNewRecordState"],
            extract_new_record_state::DOC,
            extract_new_record_state::config_def,
            extract_new_record_state::ExtractNewRecordState::default()
        ),
        t!(
            "io.debezium.transforms.ByLogicalTableRouter",
            ["ByLogicalTableRouter"],
            by_logical_table_router::DOC,
            by_logical_table_router::config_def,
            by_logical_table_router::ByLogicalTableRouter::default()
        ),
        t!(
            "io.debezium.transforms.outbox.EventRouter",
            ["EventRouter"],
            outbox_event_router::DOC,
            outbox_event_router::config_def,
            outbox_event_router::EventRouter::default()
        ),
    ]
}

/// Registers every built-in transform and predicate.
pub fn register(registry: &mut Registry) {
    for p in catalog() {
        match p.factory {
            Factory::Transform(f) => {
                registry.register_transform(p.class, p.aliases, f);
            }
            Factory::Predicate(f) => {
                registry.register_predicate(p.class, p.aliases, f);
            }
        }
    }
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// docs/transforms.md (the index), generated from the config declarations.
pub fn reference_markdown() -> String {
    reference_pages().remove(0).1
}

/// The reference, generated from the config declarations: the index
/// (`transforms.md`) and a page per transform or predicate
/// (`transforms/<Name>.md`; $Key/$Value variants share one), paths relative
/// to docs/.
pub fn reference_pages() -> Vec<(String, String)> {
    const GENERATED: &str = "<!-- Generated from the config declarations in transforms/ by \
         `SLUICE_REGEN_DOCS=1 cargo test -p sluice-transforms docs_are_current`; do not edit. -->";
    let mut index = format!(
        "# Transforms and predicates\n\n{GENERATED}\n\n\
         Use them exactly as in Kafka Connect: `transforms=a,b`, `transforms.a.type=<class or alias>`, \
         the transform's keys under `transforms.a.`, and optionally `transforms.a.predicate=<name>` and \
         `transforms.a.negate=true` with `predicates=<name>`, `predicates.<name>.type=...`.\n\n\
         One page each:\n\n"
    );
    let mut pages = Vec::new();
    let list = catalog();
    let mut i = 0;
    while i < list.len() {
        // Variants ($Key/$Value) share one page.
        let p = list[i];
        let base = p.class.split('$').next().unwrap_or(p.class);
        let mut classes = vec![p];
        while i + 1 < list.len() && list[i + 1].class.split('$').next() == Some(base) {
            i += 1;
            classes.push(list[i]);
        }
        i += 1;
        let kind = match p.factory {
            Factory::Transform(_) => "transform",
            Factory::Predicate(_) => "predicate",
        };
        let short = base.rsplit('.').next().unwrap_or(base);
        index.push_str(&format!(
            "- [{short}](transforms/{short}.md) ({kind}): {}\n",
            p.doc
        ));
        let mut out = format!("# {short}\n\n{GENERATED}\n\n{}\n\n", p.doc);
        for c in &classes {
            out.push_str(&format!(
                "- {kind} `{}` (alias `{}`)\n",
                c.class,
                c.aliases.join("`, `")
            ));
        }
        let def = (p.config_def)();
        if def.keys.is_empty() {
            out.push_str("\nNo configuration.\n");
        } else {
            out.push_str("\n| key | type | default | valid values | importance | description |\n|---|---|---|---|---|---|\n");
            for k in &def.keys {
                let default = match &k.default {
                    None => "(required)".to_string(),
                    Some(d) if d.is_empty() => "\"\"".to_string(),
                    Some(d) => format!("`{d}`"),
                };
                let valid = k
                    .validator
                    .as_ref()
                    .map(|v| v.describe())
                    .unwrap_or_default();
                let doc = if k.unsupported {
                    format!("{} (accepted; not acted on yet)", k.doc)
                } else {
                    k.doc.clone()
                };
                out.push_str(&format!(
                    "| `{}` | {} | {} | {} | {} | {} |\n",
                    k.name,
                    k.kind.name(),
                    cell(&default),
                    cell(&valid),
                    k.importance.name(),
                    cell(&doc)
                ));
            }
        }
        out.push_str("\n[All transforms and predicates](../transforms.md)\n");
        pages.push((format!("transforms/{short}.md"), out));
    }
    let mut all = vec![("transforms.md".to_string(), index)];
    all.extend(pages);
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docs_are_current() {
        let path = std::path::Path::new(
            &std::env::var("CARGO_MANIFEST_DIR")
                .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string()),
        )
        .join("../docs");
        sluice_api::config::check_generated_docs(
            &path,
            &reference_pages(),
            "SLUICE_REGEN_DOCS=1 cargo test -p sluice-transforms docs_are_current",
        );
    }

    #[test]
    fn every_plugin_registers_and_configs_declare() {
        let mut r = Registry::new();
        register(&mut r);
        for p in catalog() {
            assert!(r.find(p.class).is_some(), "{}", p.class);
            for a in p.aliases {
                assert_eq!(
                    r.find(a).map(|d| d.class.as_str()),
                    Some(p.class),
                    "alias {a}"
                );
            }
        }
    }
}
