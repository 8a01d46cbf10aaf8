//! [`Store`]: the embedded key-value store (one redb file, `<data-dir>/state.redb`) for
//! mutable state that is not a post: users, alert lifecycle, label corrections, the
//! influence snapshot.
//!
//! Values are JSON under string keys, in named tables ([`Store::put`]), or raw bytes in
//! tables of their own ([`Store::put_bytes`], for large compact state such as the
//! influence snapshot; a table holds one kind or the other). Promises:
//! * every call is its own transaction: once `put` or `remove` returns, the change is
//!   durable and every later read sees it;
//! * a table that was never written reads as empty; [`Store::list`] is in key order;
//! * a value that no longer decodes as the asked type is [`IndexError::Corrupt`].
//!
//! The API is blocking (redb is synchronous): async callers wrap it in `spawn_blocking`.
//! [`Store`] is cheap to clone; clones share the database.

use std::path::Path;
use std::sync::Arc;

use redb::{Database, ReadableTable, TableDefinition, TableError};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::IndexError;

/// The embedded store. Only one process may open a given file.
#[derive(Clone)]
pub struct Store {
    database: Arc<Database>,
}

fn table_definition(table: &str) -> TableDefinition<'_, &'static str, &'static str> {
    TableDefinition::new(table)
}

impl Store {
    /// Opens the store file at `path`, creating it (and its folder) if needed.
    pub fn open(path: &Path) -> Result<Store, IndexError> {
        if let Some(parent) = path
            .parent()
            .filter(|parent| !parent.as_os_str().is_empty())
        {
            std::fs::create_dir_all(parent).map_err(|source| IndexError::Io {
                path: parent.to_path_buf(),
                source,
            })?;
        }
        let database = Database::create(path).map_err(IndexError::store("opening the store"))?;
        tracing::info!(path = %path.display(), "state store opened");
        Ok(Store {
            database: Arc::new(database),
        })
    }

    /// Writes `value` under `key`, replacing any previous value.
    pub fn put<T: Serialize>(
        &self,
        table: &'static str,
        key: &str,
        value: &T,
    ) -> Result<(), IndexError> {
        let json = serde_json::to_string(value).map_err(|source| IndexError::Encode {
            what: format!("value {table}/{key}"),
            source,
        })?;
        let transaction = self
            .database
            .begin_write()
            .map_err(IndexError::store("starting a write"))?;
        {
            let mut opened = transaction
                .open_table(table_definition(table))
                .map_err(IndexError::store("opening a table for writing"))?;
            opened
                .insert(key, json.as_str())
                .map_err(IndexError::store("writing a value"))?;
        }
        transaction
            .commit()
            .map_err(IndexError::store("committing a write"))
    }

    /// Writes every `(key, value)` in one write transaction (one commit for all), each
    /// replacing any previous value.
    pub fn put_many<T: Serialize>(
        &self,
        table: &'static str,
        entries: &[(&str, &T)],
    ) -> Result<(), IndexError> {
        if entries.is_empty() {
            return Ok(());
        }
        let mut encoded = Vec::with_capacity(entries.len());
        for (key, value) in entries {
            let json = serde_json::to_string(value).map_err(|source| IndexError::Encode {
                what: format!("value {table}/{key}"),
                source,
            })?;
            encoded.push((*key, json));
        }
        let transaction = self
            .database
            .begin_write()
            .map_err(IndexError::store("starting a write"))?;
        {
            let mut opened = transaction
                .open_table(table_definition(table))
                .map_err(IndexError::store("opening a table for writing"))?;
            for (key, json) in &encoded {
                opened
                    .insert(*key, json.as_str())
                    .map_err(IndexError::store("writing a value"))?;
            }
        }
        transaction
            .commit()
            .map_err(IndexError::store("committing a write"))
    }

    /// Reads the value under `key`, if any.
    pub fn get<T: DeserializeOwned>(
        &self,
        table: &'static str,
        key: &str,
    ) -> Result<Option<T>, IndexError> {
        let transaction = self
            .database
            .begin_read()
            .map_err(IndexError::store("starting a read"))?;
        let opened = match transaction.open_table(table_definition(table)) {
            Ok(opened) => opened,
            Err(TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(error) => return Err(IndexError::store("opening a table for reading")(error)),
        };
        let Some(stored) = opened
            .get(key)
            .map_err(IndexError::store("reading a value"))?
        else {
            return Ok(None);
        };
        decode(table, key, stored.value()).map(Some)
    }

    /// Every `(key, value)` of the table, in key order.
    pub fn list<T: DeserializeOwned>(
        &self,
        table: &'static str,
    ) -> Result<Vec<(String, T)>, IndexError> {
        let transaction = self
            .database
            .begin_read()
            .map_err(IndexError::store("starting a read"))?;
        let opened = match transaction.open_table(table_definition(table)) {
            Ok(opened) => opened,
            Err(TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(error) => return Err(IndexError::store("opening a table for reading")(error)),
        };
        let mut entries = Vec::new();
        for entry in opened
            .iter()
            .map_err(IndexError::store("listing a table"))?
        {
            let (key, value) = entry.map_err(IndexError::store("reading a table entry"))?;
            let key = key.value().to_string();
            let value = decode(table, &key, value.value())?;
            entries.push((key, value));
        }
        Ok(entries)
    }

    /// Removes the value under `key`; removing a missing key is not an error.
    pub fn remove(&self, table: &'static str, key: &str) -> Result<(), IndexError> {
        let transaction = self
            .database
            .begin_write()
            .map_err(IndexError::store("starting a write"))?;
        {
            let mut opened = transaction
                .open_table(table_definition(table))
                .map_err(IndexError::store("opening a table for writing"))?;
            opened
                .remove(key)
                .map_err(IndexError::store("removing a value"))?;
        }
        transaction
            .commit()
            .map_err(IndexError::store("committing a removal"))
    }
}

fn bytes_table_definition(table: &str) -> TableDefinition<'_, &'static str, &'static [u8]> {
    TableDefinition::new(table)
}

impl Store {
    /// Writes the bytes `value` under `key` of a bytes table, replacing any previous value.
    pub fn put_bytes(
        &self,
        table: &'static str,
        key: &str,
        value: &[u8],
    ) -> Result<(), IndexError> {
        let transaction = self
            .database
            .begin_write()
            .map_err(IndexError::store("starting a write"))?;
        {
            let mut opened = transaction
                .open_table(bytes_table_definition(table))
                .map_err(IndexError::store("opening a table for writing"))?;
            opened
                .insert(key, value)
                .map_err(IndexError::store("writing a value"))?;
        }
        transaction
            .commit()
            .map_err(IndexError::store("committing a write"))
    }

    /// Reads the bytes under `key` of a bytes table, if any.
    pub fn get_bytes(&self, table: &'static str, key: &str) -> Result<Option<Vec<u8>>, IndexError> {
        let transaction = self
            .database
            .begin_read()
            .map_err(IndexError::store("starting a read"))?;
        let opened = match transaction.open_table(bytes_table_definition(table)) {
            Ok(opened) => opened,
            Err(TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(error) => return Err(IndexError::store("opening a table for reading")(error)),
        };
        let stored = opened
            .get(key)
            .map_err(IndexError::store("reading a value"))?;
        Ok(stored.map(|value| value.value().to_vec()))
    }
}

fn decode<T: DeserializeOwned>(table: &str, key: &str, json: &str) -> Result<T, IndexError> {
    serde_json::from_str(json).map_err(|source| IndexError::Corrupt {
        what: format!("stored value {table}/{key}"),
        source,
    })
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct User {
        name: String,
        teams: Vec<String>,
    }

    fn user(name: &str) -> User {
        User {
            name: name.to_string(),
            teams: vec!["care".to_string()],
        }
    }

    #[test]
    fn put_get_list_remove() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("state.redb")).expect("opens");

        store.put("users", "zoe", &user("Zoé")).expect("put");
        store.put("users", "alice", &user("Alice")).expect("put");
        store
            .put("users", "alice", &user("Alice B."))
            .expect("overwrite");

        let alice: Option<User> = store.get("users", "alice").expect("get");
        assert_eq!(alice, Some(user("Alice B.")));
        let nobody: Option<User> = store.get("users", "nobody").expect("get");
        assert_eq!(nobody, None);

        let all: Vec<(String, User)> = store.list("users").expect("list");
        let keys: Vec<&str> = all.iter().map(|(key, _)| key.as_str()).collect();
        assert_eq!(keys, ["alice", "zoe"], "key order");

        store.remove("users", "alice").expect("remove");
        store
            .remove("users", "alice")
            .expect("removing twice is fine");
        let alice: Option<User> = store.get("users", "alice").expect("get");
        assert_eq!(alice, None);
        assert_eq!(store.list::<User>("users").expect("list").len(), 1);
    }

    #[test]
    fn missing_table_reads_as_empty() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("nested/state.redb")).expect("opens");
        let value: Option<User> = store.get("never_written", "x").expect("get");
        assert_eq!(value, None);
        assert!(
            store
                .list::<User>("never_written")
                .expect("list")
                .is_empty()
        );
        store.remove("never_written", "x").expect("remove");
    }

    #[test]
    fn values_survive_reopening() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("state.redb");
        {
            let store = Store::open(&path).expect("opens");
            store.put("alerts", "a1", &"acknowledged").expect("put");
        }
        let store = Store::open(&path).expect("reopens");
        let state: Option<String> = store.get("alerts", "a1").expect("get");
        assert_eq!(state.as_deref(), Some("acknowledged"));
    }

    #[test]
    fn bytes_survive_reopening() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("state.redb");
        {
            let store = Store::open(&path).expect("opens");
            assert_eq!(store.get_bytes("blobs", "a").expect("get"), None);
            store.put_bytes("blobs", "a", &[1, 2, 3]).expect("put");
            store
                .put_bytes("blobs", "a", &[4, 0, 5])
                .expect("overwrite");
        }
        let store = Store::open(&path).expect("reopens");
        assert_eq!(
            store.get_bytes("blobs", "a").expect("get"),
            Some(vec![4, 0, 5])
        );
    }

    #[test]
    fn wrong_type_is_corrupt_not_a_panic() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("state.redb")).expect("opens");
        store.put("users", "alice", &42).expect("put");
        let error = store.get::<User>("users", "alice").expect_err("wrong type");
        assert!(matches!(error, IndexError::Corrupt { .. }), "{error:?}");
    }
}
