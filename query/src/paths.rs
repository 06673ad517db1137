//! Requested dot paths found in one pass over an event's JSON: the paths form a tree, the
//! event's keys are compared with it as they are read, and values off the tree are skipped
//! without being built. A `fields` export reads each event once however many paths it names.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;

/// A node of the path tree: the paths ending here and the keys below it.
#[derive(Debug, Default)]
struct Node {
    /// The indices of the paths that end at this node (one path may be requested twice).
    leaves: Vec<usize>,
    children: Vec<(String, Node)>,
    /// Every path index at or below this node, cleared when the key appears again (the last
    /// of duplicate keys wins, as when the event is parsed whole).
    below: Vec<usize>,
}

/// A set of dot paths.
#[derive(Debug)]
pub(crate) struct Paths {
    root: Node,
    count: usize,
}

impl Paths {
    /// The tree of `paths`, each split at dots; path `i` is found at index `i`.
    pub(crate) fn new(paths: &[Vec<String>]) -> Self {
        let mut root = Node::default();
        for (index, path) in paths.iter().enumerate() {
            let mut node = &mut root;
            node.below.push(index);
            for segment in path {
                let at = match node.children.iter().position(|(key, _)| key == segment) {
                    Some(at) => at,
                    None => {
                        node.children.push((segment.clone(), Node::default()));
                        node.children.len() - 1
                    }
                };
                node = &mut node.children[at].1;
                node.below.push(index);
            }
            node.leaves.push(index);
        }
        Self {
            root,
            count: paths.len(),
        }
    }

    /// The values of the paths in `event` (a JSON object), as the JSON text found there;
    /// `None` where the event lacks the path. `found` is cleared and refilled.
    pub(crate) fn find<'a>(&self, event: &'a str, found: &mut Vec<Option<&'a RawValue>>) {
        found.clear();
        found.resize(self.count, None);
        // Stored events are JSON objects; anything else has none of the paths.
        let _ = within(&self.root, event, found);
    }
}

/// Fills `found` with the paths below `node` in the JSON object `json`.
fn within<'a>(
    node: &Node,
    json: &'a str,
    found: &mut [Option<&'a RawValue>],
) -> serde_json::Result<()> {
    let mut deserializer = serde_json::Deserializer::from_str(json);
    deserializer.deserialize_map(ObjectVisitor { node, found })
}

struct ObjectVisitor<'n, 'f, 'a> {
    node: &'n Node,
    found: &'f mut [Option<&'a RawValue>],
}

impl<'de: 'a, 'a> Visitor<'de> for ObjectVisitor<'_, '_, 'a> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<(), M::Error> {
        while let Some(child) = map.next_key_seed(KeySeed(self.node))? {
            let Some(child) = child else {
                map.next_value::<IgnoredAny>()?;
                continue;
            };
            let value: &'de RawValue = map.next_value()?;
            for &index in &child.below {
                self.found[index] = None;
            }
            for &index in &child.leaves {
                self.found[index] = Some(value);
            }
            if !child.children.is_empty() && value.get().starts_with('{') {
                within(child, value.get(), self.found).map_err(de::Error::custom)?;
            }
        }
        Ok(())
    }
}

/// Reads a key and answers the child of the node it names, if any.
struct KeySeed<'n>(&'n Node);

impl<'de, 'n> DeserializeSeed<'de> for KeySeed<'n> {
    type Value = Option<&'n Node>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de, 'n> Visitor<'de> for KeySeed<'n> {
    type Value = Option<&'n Node>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Self::Value, E> {
        Ok(self
            .0
            .children
            .iter()
            .find(|(name, _)| name == key)
            .map(|(_, child)| child))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(list: &[&str]) -> Paths {
        Paths::new(
            &list
                .iter()
                .map(|p| p.split('.').map(str::to_owned).collect())
                .collect::<Vec<_>>(),
        )
    }

    fn texts(paths: &Paths, event: &str) -> Vec<Option<String>> {
        let mut found = Vec::new();
        paths.find(event, &mut found);
        found
            .into_iter()
            .map(|v| v.map(|v| v.get().to_owned()))
            .collect()
    }

    #[test]
    fn finds_nested_paths_in_one_pass_and_skips_the_rest() {
        let p = paths(&["id", "geoip.country_code", "geoip", "absent.deep", "n"]);
        let event =
            r#"{"id":"a\"b","geoip":{"country_code":"US","lat":1.5},"x":[1,{"y":2}],"n":7}"#;
        assert_eq!(
            texts(&p, event),
            vec![
                Some(r#""a\"b""#.to_owned()),
                Some(r#""US""#.to_owned()),
                Some(r#"{"country_code":"US","lat":1.5}"#.to_owned()),
                None,
                Some("7".to_owned()),
            ]
        );
    }

    #[test]
    fn the_last_of_duplicate_keys_wins_with_its_whole_subtree() {
        let p = paths(&["a.b", "a.c"]);
        assert_eq!(
            texts(&p, r#"{"a":{"b":1,"c":2},"a":{"c":3}}"#),
            vec![None, Some("3".to_owned())]
        );
    }

    #[test]
    fn escaped_keys_and_non_objects_on_the_way() {
        let p = paths(&["k\u{e9}y", "s.t"]);
        assert_eq!(
            texts(&p, r#"{"k\u00e9y":true,"s":"not an object"}"#),
            vec![Some("true".to_owned()), None]
        );
        assert_eq!(texts(&p, "[1,2]"), vec![None, None]);
    }

    #[test]
    fn a_path_named_twice_is_found_at_both_indices() {
        let p = paths(&["a", "b", "a"]);
        assert_eq!(
            texts(&p, r#"{"a":1}"#),
            vec![Some("1".to_owned()), None, Some("1".to_owned())]
        );
    }
}
