//! N+1 and repeated-call detection: sibling spans under one parent that repeat the
//! same work, such as an ORM's lazy load issuing one `SELECT … WHERE id = ?` per row.
//!
//! Siblings are grouped by service and fingerprint: `db.query.summary`, else the
//! statement (`db.query.text`, `db.statement`) with its literals stripped, else the
//! route (`http.route`, `url.template`, `rpc.service`/`rpc.method`), else the span
//! name. A group is a finding when it has at least `min_repeats` spans and they take
//! `min_total` in total or `min_parent_percent` of the parent's duration. It is
//! sequential when no two of its spans overlap (a loop: batching would save all but
//! the longest call) and parallel otherwise (a fan-out).
//!
//! Pure code over one trace's spans: no I/O, no serde.

use std::collections::HashMap;

use crate::config::NPlusOneConfig;
use crate::model::{AttrValue, Span, SpanId};

/// Statements longer than this are fingerprinted by their first this-many bytes,
/// so a 1 MB `INSERT` costs no more than a short one.
const MAX_STATEMENT_BYTES: usize = 4096;

/// One run of repeated sibling spans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Finding {
    /// Index of the parent span in the trace's spans; `None` when the parent is
    /// missing from the trace (the spans still share its ID).
    pub(crate) parent: Option<usize>,
    /// Indices of the repeated spans, by start time.
    pub(crate) spans: Vec<usize>,
    pub(crate) service: String,
    /// What every span of the run does: the query without literals, route or name.
    pub(crate) fingerprint: String,
    /// Sum of the spans' durations.
    pub(crate) total_nanos: u64,
    pub(crate) longest_nanos: u64,
    /// From the first start to the last end.
    pub(crate) wall_nanos: u64,
    pub(crate) parallel: bool,
}

impl Finding {
    /// What batching the calls into one could save: everything but the longest
    /// call for a sequential run, the wall time beyond the longest for a parallel one.
    pub(crate) fn could_save_nanos(&self) -> u64 {
        if self.parallel {
            self.wall_nanos.saturating_sub(self.longest_nanos)
        } else {
            self.total_nanos.saturating_sub(self.longest_nanos)
        }
    }
}

/// Every finding in one trace, largest total first.
pub(crate) fn detect(spans: &[Span], config: &NPlusOneConfig) -> Vec<Finding> {
    let index_of: HashMap<SpanId, usize> = spans
        .iter()
        .enumerate()
        .map(|(index, span)| (span.span_id, index))
        .collect();
    let mut siblings: HashMap<SpanId, Vec<usize>> = HashMap::new();
    for (index, span) in spans.iter().enumerate() {
        if let Some(parent) = span.parent_span_id {
            siblings.entry(parent).or_default().push(index);
        }
    }
    let mut findings = Vec::new();
    for (parent_id, children) in siblings {
        if children.len() < config.min_repeats {
            continue;
        }
        let parent = index_of.get(&parent_id).copied();
        let mut groups: HashMap<(&str, String), Vec<usize>> = HashMap::new();
        for child in children {
            let span = &spans[child];
            groups
                .entry((span.service_name(), fingerprint(span)))
                .or_default()
                .push(child);
        }
        for ((service, fingerprint), mut members) in groups {
            if members.len() < config.min_repeats {
                continue;
            }
            members.sort_by_key(|&index| (spans[index].start_unix_nanos, index));
            let finding = measure(spans, parent, members, service, fingerprint);
            if significant(&finding, parent.map(|index| &spans[index]), config) {
                findings.push(finding);
            }
        }
    }
    findings.sort_by(|a, b| {
        b.total_nanos
            .cmp(&a.total_nanos)
            .then(a.spans.first().cmp(&b.spans.first()))
    });
    findings
}

/// Whether the trace has at least one finding.
pub(crate) fn has_finding(spans: &[Span], config: &NPlusOneConfig) -> bool {
    !detect(spans, config).is_empty()
}

fn measure(
    spans: &[Span],
    parent: Option<usize>,
    members: Vec<usize>,
    service: &str,
    fingerprint: String,
) -> Finding {
    let mut total_nanos = 0u64;
    let mut longest_nanos = 0;
    let mut parallel = false;
    let mut latest_end = 0;
    for (position, &index) in members.iter().enumerate() {
        let span = &spans[index];
        let duration = span.duration_nanos();
        total_nanos = total_nanos.saturating_add(duration);
        longest_nanos = longest_nanos.max(duration);
        if position > 0 && span.start_unix_nanos < latest_end {
            parallel = true;
        }
        latest_end = latest_end.max(span.end_unix_nanos);
    }
    let first_start = members
        .first()
        .map_or(0, |&index| spans[index].start_unix_nanos);
    Finding {
        parent,
        spans: members,
        service: service.to_owned(),
        fingerprint,
        total_nanos,
        longest_nanos,
        wall_nanos: latest_end.saturating_sub(first_start),
        parallel,
    }
}

fn significant(finding: &Finding, parent: Option<&Span>, config: &NPlusOneConfig) -> bool {
    let min_total = config.min_total.as_nanos().min(u128::from(u64::MAX)) as u64;
    let share_of_parent = parent.is_some_and(|parent| {
        let parent_nanos = u128::from(parent.duration_nanos());
        parent_nanos > 0
            && u128::from(finding.total_nanos) * 100
                >= parent_nanos * u128::from(config.min_parent_percent)
    });
    finding.total_nanos >= min_total || share_of_parent
}

/// What a span does, such that repeats of the same work share it.
pub(crate) fn fingerprint(span: &Span) -> String {
    let text = |key: &str| {
        span.attributes
            .iter()
            .find_map(|attribute| match &attribute.value {
                AttrValue::Str(value) if attribute.key == key && !value.trim().is_empty() => {
                    Some(value.as_str())
                }
                _ => None,
            })
    };
    if let Some(summary) = text("db.query.summary") {
        return collapse_whitespace(summary);
    }
    if let Some(statement) = text("db.query.text").or_else(|| text("db.statement")) {
        return strip_literals(statement);
    }
    if let Some(route) = text("http.route").or_else(|| text("url.template")) {
        return match text("http.request.method").or_else(|| text("http.method")) {
            Some(method) => format!("{method} {route}"),
            None => route.to_owned(),
        };
    }
    if let (Some(service), Some(method)) = (text("rpc.service"), text("rpc.method")) {
        return format!("{service}/{method}");
    }
    span.name.clone()
}

/// A SQL statement with its literals replaced by `?`: quoted strings, numbers and
/// whole `IN (…)` lists, with comments dropped and whitespace collapsed, so that
/// `WHERE id = 7` and `WHERE id = 8` read the same.
pub(crate) fn strip_literals(statement: &str) -> String {
    let mut end = statement.len().min(MAX_STATEMENT_BYTES);
    while !statement.is_char_boundary(end) {
        end -= 1;
    }
    let chars: Vec<char> = statement[..end].chars().collect();
    let mut out = String::with_capacity(end);
    let mut index = 0;
    let push_space = |out: &mut String| {
        if !out.is_empty() && !out.ends_with(' ') {
            out.push(' ');
        }
    };
    while index < chars.len() {
        let ch = chars[index];
        let next = chars.get(index + 1).copied();
        if ch == '\'' {
            // A string literal; '' inside it is an escaped quote.
            index += 1;
            while index < chars.len() {
                if chars[index] == '\'' {
                    if chars.get(index + 1) == Some(&'\'') {
                        index += 2;
                        continue;
                    }
                    break;
                }
                index += 1;
            }
            index += 1;
            out.push('?');
        } else if ch == '"' || ch == '`' {
            // A quoted identifier: kept as written.
            out.push(ch);
            index += 1;
            while index < chars.len() && chars[index] != ch {
                out.push(chars[index]);
                index += 1;
            }
            if index < chars.len() {
                out.push(ch);
                index += 1;
            }
        } else if ch == '-' && next == Some('-') {
            while index < chars.len() && chars[index] != '\n' {
                index += 1;
            }
            push_space(&mut out);
        } else if ch == '/' && next == Some('*') {
            index += 2;
            while index < chars.len()
                && !(chars[index] == '*' && chars.get(index + 1) == Some(&'/'))
            {
                index += 1;
            }
            index += 2;
            push_space(&mut out);
        } else if ch.is_whitespace() {
            index += 1;
            push_space(&mut out);
        } else if ch.is_alphabetic() || ch == '_' || ch == '$' || ch == '@' || ch == ':' {
            // An identifier, keyword or placeholder ($1, :name, @p1): digits in it stay.
            while index < chars.len()
                && (chars[index].is_alphanumeric() || matches!(chars[index], '_' | '$' | '@' | ':'))
            {
                out.push(chars[index]);
                index += 1;
            }
        } else if ch.is_ascii_digit() || (ch == '.' && next.is_some_and(|n| n.is_ascii_digit())) {
            while index < chars.len()
                && (chars[index].is_ascii_alphanumeric() || chars[index] == '.')
            {
                // 1e-5: the sign after an exponent belongs to the number.
                if matches!(chars[index], 'e' | 'E')
                    && matches!(chars.get(index + 1), Some('-' | '+'))
                {
                    index += 1;
                }
                index += 1;
            }
            out.push('?');
        } else {
            out.push(ch);
            index += 1;
        }
    }
    collapse_in_lists(out.trim_end())
}

/// `IN (?, ?, ?)` → `IN (?)`, so lists of different lengths read the same.
fn collapse_in_lists(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(position) = find_in_list(rest) {
        let (head, tail) = rest.split_at(position);
        out.push_str(head);
        let open = tail.find('(').expect("find_in_list saw the parenthesis");
        let close = tail.find(')').expect("find_in_list saw the parenthesis");
        out.push_str(&tail[..=open]);
        out.push_str("?)");
        rest = &tail[close + 1..];
    }
    out.push_str(rest);
    out
}

/// Where an `IN (` of only placeholders and commas starts, if anywhere.
fn find_in_list(text: &str) -> Option<usize> {
    let lower = text.to_ascii_lowercase();
    let mut from = 0;
    while let Some(found) = lower[from..].find("in (") {
        let start = from + found;
        let word_start = start == 0 || !lower.as_bytes()[start - 1].is_ascii_alphanumeric();
        let inside_end = lower[start + 4..].find(')').map(|end| start + 4 + end);
        if let (true, Some(end)) = (word_start, inside_end) {
            let inside = &lower[start + 4..end];
            if inside.contains('?') && inside.chars().all(|ch| matches!(ch, '?' | ',' | ' ')) {
                return Some(start);
            }
        }
        from = start + 4;
    }
    None
}

fn collapse_whitespace(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests;
