//! Services and operations seen so far, with dense ids, mirrored in memory.
//!
//! The catalog only grows; retention does not prune it (a service whose spans all
//! expired still appears in the pickers, as in Jaeger's Badger store).

use foldhash::HashMap;

use super::keys;
use super::StoreError;
use crate::model::SpanKind;

#[derive(Debug, Default)]
pub(crate) struct Catalog {
    services: Vec<String>,
    service_ids: HashMap<String, u32>,
    /// (service id, kind, name) by operation id.
    operations: Vec<(u32, SpanKind, String)>,
    operation_ids: HashMap<(u32, SpanKind), HashMap<String, u32>>,
}

impl Catalog {
    pub(super) fn load(tree: &sled::Tree) -> Result<Catalog, StoreError> {
        Catalog::from_entries(tree.iter().map(|entry| entry.map_err(StoreError::from)))
    }

    /// The catalog from its stored `(key, value)` pairs, checked: names are UTF-8,
    /// ids are dense, every operation's service exists.
    pub(crate) fn from_entries<K: AsRef<[u8]>, V: AsRef<[u8]>>(
        entries: impl IntoIterator<Item = Result<(K, V), StoreError>>,
    ) -> Result<Catalog, StoreError> {
        let mut catalog = Catalog::default();
        let mut services: Vec<(u32, String)> = Vec::new();
        let mut operations: Vec<(u32, u32, SpanKind, String)> = Vec::new();
        for entry in entries {
            let (key, value) = entry?;
            let (key, value) = (key.as_ref(), value.as_ref());
            let id = u32::from_be_bytes(
                value
                    .try_into()
                    .map_err(|_| StoreError::Corrupt("catalog id"))?,
            );
            match key.first() {
                Some(&keys::SERVICE) => services.push((id, utf8(&key[1..])?)),
                Some(&keys::OPERATION) if key.len() >= 6 => {
                    let service_id = u32::from_be_bytes(
                        key[1..5]
                            .try_into()
                            .map_err(|_| StoreError::Corrupt("op key"))?,
                    );
                    let kind = SpanKind::from_number(i32::from(key[5]))
                        .ok_or(StoreError::Corrupt("operation kind"))?;
                    operations.push((id, service_id, kind, utf8(&key[6..])?));
                }
                _ => return Err(StoreError::Corrupt("unknown catalog key")),
            }
        }
        services.sort_by_key(|(id, _)| *id);
        operations.sort_by_key(|(id, ..)| *id);
        for (expected, (id, name)) in services.into_iter().enumerate() {
            if id as usize != expected {
                return Err(StoreError::Corrupt("service ids are not dense"));
            }
            catalog.insert_service(name);
        }
        for (expected, (id, service_id, kind, name)) in operations.into_iter().enumerate() {
            if id as usize != expected || service_id as usize >= catalog.services.len() {
                return Err(StoreError::Corrupt("operation ids are not dense"));
            }
            catalog.insert_operation(service_id, kind, name);
        }
        Ok(catalog)
    }

    pub(super) fn service_id(&self, name: &str) -> Option<u32> {
        self.service_ids.get(name).copied()
    }

    pub(super) fn operation_id(&self, service_id: u32, kind: SpanKind, name: &str) -> Option<u32> {
        self.operation_ids
            .get(&(service_id, kind))?
            .get(name)
            .copied()
    }

    /// Ids of every operation of `service` named `name`, across span kinds.
    pub(super) fn operation_ids_named(&self, service_id: u32, name: &str) -> Vec<u32> {
        self.operation_ids
            .iter()
            .filter(|((service, _), _)| *service == service_id)
            .filter_map(|(_, names)| names.get(name).copied())
            .collect()
    }

    pub(super) fn operation_ids_of(&self, service_id: u32) -> Vec<u32> {
        self.operation_ids
            .iter()
            .filter(|((service, _), _)| *service == service_id)
            .flat_map(|(_, names)| names.values().copied())
            .collect()
    }

    pub(super) fn service_name(&self, id: u32) -> Option<&str> {
        self.services.get(id as usize).map(String::as_str)
    }

    pub(super) fn services(&self) -> &[String] {
        &self.services
    }

    pub(super) fn operations_of(&self, service_id: u32) -> impl Iterator<Item = (SpanKind, &str)> {
        self.operations
            .iter()
            .filter(move |(service, ..)| *service == service_id)
            .map(|(_, kind, name)| (*kind, name.as_str()))
    }

    /// `(operation id, kind, name)` of every operation of `service_id`.
    pub(super) fn operation_entries(&self, service_id: u32) -> Vec<(u32, SpanKind, String)> {
        self.operations
            .iter()
            .enumerate()
            .filter(|(_, (service, ..))| *service == service_id)
            .map(|(id, (_, kind, name))| (id as u32, *kind, name.clone()))
            .collect()
    }

    /// Adds a service and returns its id plus the catalog key/value to persist.
    pub(super) fn add_service(&mut self, name: &str) -> (u32, Vec<u8>, [u8; 4]) {
        let id = self.insert_service(name.to_owned());
        (id, keys::service_key(name), id.to_be_bytes())
    }

    pub(super) fn add_operation(
        &mut self,
        service_id: u32,
        kind: SpanKind,
        name: &str,
    ) -> (u32, Vec<u8>, [u8; 4]) {
        let id = self.insert_operation(service_id, kind, name.to_owned());
        (
            id,
            keys::operation_key(service_id, kind as u8, name),
            id.to_be_bytes(),
        )
    }

    fn insert_service(&mut self, name: String) -> u32 {
        let id = self.services.len() as u32;
        self.service_ids.insert(name.clone(), id);
        self.services.push(name);
        id
    }

    fn insert_operation(&mut self, service_id: u32, kind: SpanKind, name: String) -> u32 {
        let id = self.operations.len() as u32;
        self.operation_ids
            .entry((service_id, kind))
            .or_default()
            .insert(name.clone(), id);
        self.operations.push((service_id, kind, name));
        id
    }
}

fn utf8(bytes: &[u8]) -> Result<String, StoreError> {
    String::from_utf8(bytes.to_vec()).map_err(|_| StoreError::Corrupt("catalog name is not utf-8"))
}
