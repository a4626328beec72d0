//! The embedded store behind the storage seam (`crate::storage::Storage`): search
//! over block metadata, dependencies from block edges, RED cells by catalog id, all
//! translated into the seam's names.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use super::{search, Resolution, Store, StoreError};
use crate::model::{Span, SpanKind, TraceId};
use crate::storage::{
    Dependency, NamedRedCell, Operation, RedSelection, Storage, StorageError, TraceQuery,
};

impl From<StoreError> for StorageError {
    fn from(error: StoreError) -> StorageError {
        match &error {
            StoreError::Io(io) if is_disk_full(io) => {
                StorageError::Unavailable("the data directory's disk is full".into())
            }
            _ => StorageError::Backend(Box::new(error)),
        }
    }
}

fn is_disk_full(error: &std::io::Error) -> bool {
    const ENOSPC: i32 = 28;
    error.kind() == std::io::ErrorKind::StorageFull || error.raw_os_error() == Some(ENOSPC)
}

impl Storage for Store {
    fn write_spans(&self, spans: &[&Span]) -> Result<usize, StorageError> {
        Ok(Store::write_spans(self, spans)?)
    }

    fn sync(&self) -> Result<(), StorageError> {
        Ok(Store::sync(self)?)
    }

    fn read_traces(
        &self,
        trace_ids: &[TraceId],
    ) -> Result<HashMap<TraceId, Vec<Span>>, StorageError> {
        Ok(Store::read_traces(self, trace_ids)?.into_iter().collect())
    }

    fn find_trace_ids(&self, query: &TraceQuery) -> Result<Vec<TraceId>, StorageError> {
        Ok(search::matching_trace_ids(self, query)?)
    }

    fn services(&self) -> Result<Vec<String>, StorageError> {
        Ok(Store::services(self))
    }

    fn operations(
        &self,
        service: &str,
        kind: Option<SpanKind>,
    ) -> Result<Vec<Operation>, StorageError> {
        Ok(Store::operations(self, service, kind))
    }

    fn dependencies(
        &self,
        start_unix_nanos: u64,
        end_unix_nanos: u64,
    ) -> Result<Vec<Dependency>, StorageError> {
        let mut counts: BTreeMap<(u32, u32), u64> = BTreeMap::new();
        for meta in self.blocks() {
            if meta.max_start_unix_nanos < start_unix_nanos
                || meta.min_start_unix_nanos > end_unix_nanos
            {
                continue;
            }
            // Blocks written before edges within one service were skipped may hold them.
            for (parent, child, calls) in meta.edges.iter().filter(|(p, c, _)| p != c) {
                *counts.entry((*parent, *child)).or_default() += u64::from(*calls);
            }
        }
        let mut dependencies: Vec<Dependency> = counts
            .into_iter()
            .filter_map(|((parent, child), call_count)| {
                Some(Dependency {
                    parent: self.service_name(parent)?,
                    child: self.service_name(child)?,
                    call_count,
                })
            })
            .collect();
        dependencies.sort_by(|a, b| (&a.parent, &a.child).cmp(&(&b.parent, &b.child)));
        Ok(dependencies)
    }

    fn red_cells(
        &self,
        selection: &RedSelection,
        step_secs: u64,
        start_secs: u64,
        end_secs: u64,
    ) -> Result<Vec<NamedRedCell>, StorageError> {
        let now_secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |now| now.as_secs());
        let resolution = Resolution::for_step(step_secs, start_secs, now_secs);
        let names = self.red_cell_names(selection, start_secs);
        let ids: Vec<u32> = names.keys().copied().collect();
        let rows = self.red_cells_by_id(&ids, resolution, start_secs, end_secs)?;
        Ok(rows
            .into_iter()
            .filter_map(|row| {
                let (service, operation) = names.get(&row.operation_id)?;
                Some(NamedRedCell {
                    service: service.clone(),
                    operation: operation.clone(),
                    bucket_start_secs: row.bucket_start_secs,
                    cell: row.cell,
                })
            })
            .collect())
    }

    fn sampling_probabilities(&self) -> Result<Vec<(String, String, f64)>, StorageError> {
        Ok(Store::sampling_probabilities(self)?)
    }

    fn save_sampling_probabilities(
        &self,
        changed: &[(String, String, f64)],
    ) -> Result<(), StorageError> {
        Ok(Store::save_sampling_probabilities(self, changed)?)
    }
}

impl Store {
    /// The cell ids that hold `selection`'s spans, with the (service, operation)
    /// each belongs to (operation empty for a whole-service cell).
    fn red_cell_names(
        &self,
        selection: &RedSelection,
        start_secs: u64,
    ) -> BTreeMap<u32, (Arc<str>, Arc<str>)> {
        let mut names = BTreeMap::new();
        for service_name in &selection.services {
            let Some(service_id) = self.service_id(service_name) else {
                continue;
            };
            let service: Arc<str> = Arc::from(service_name.as_str());
            if !selection.by_operation && selection.operation.is_none() {
                // One cell per span kind and bucket holds the whole service.
                let kinds: &[SpanKind] = if selection.span_kinds.is_empty() {
                    &SpanKind::ALL
                } else {
                    &selection.span_kinds
                };
                let cells: Option<Vec<u32>> = kinds
                    .iter()
                    .map(|kind| self.red_service_cell(service_id, *kind, start_secs))
                    .collect();
                if let Some(cells) = cells {
                    for id in cells {
                        names.insert(id, (service.clone(), Arc::from("")));
                    }
                    continue;
                }
            }
            for (id, kind, name) in self.operation_entries(service_id) {
                let kind_wanted =
                    selection.span_kinds.is_empty() || selection.span_kinds.contains(&kind);
                let operation_wanted = selection
                    .operation
                    .as_ref()
                    .is_none_or(|wanted| *wanted == name);
                if kind_wanted && operation_wanted {
                    names.insert(id, (service.clone(), Arc::from(name)));
                }
            }
        }
        names
    }
}
