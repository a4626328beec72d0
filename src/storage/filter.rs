//! The `filter=` expression syntax: one condition on one attribute, beyond the
//! equality of Jaeger's `tags`.
//!
//! ```text
//! key=value   key!=value        string equality (numbers compare as numbers)
//! key=~regex  key!~regex        regular expression, unanchored (use ^…$)
//! key>n  key>=n  key<n  key<=n  numeric comparison
//! key         !key              present, absent
//! ```
//!
//! A key is looked up in the span's, its resource's, scope's, events' and links'
//! attributes, plus the synthetic tags of the Jaeger translation (`error`,
//! `span.kind`, `otel.status_code`, `service.name`, …); `resource.<key>` looks in the
//! resource only. `!=` and `!~` need the key to be present: a span without it does
//! not match (otherwise nearly every trace would). Pure code: parsing and matching
//! only, no I/O.

use regex::{Regex, RegexBuilder};

use crate::model::search_terms::{key_term, query_terms, term};
use crate::model::{any_attribute_in, SpanFields, StatusCode, ValueRef};

/// Compiled regexes may take at most this much memory; larger ones are refused
/// with a 400 rather than slowing every search down.
const MAX_REGEX_BYTES: usize = 256 * 1024;
/// The lazy DFA's cache per regex.
const MAX_REGEX_DFA_BYTES: usize = 1024 * 1024;
/// Longest accepted filter expression.
const MAX_FILTER_CHARS: usize = 1024;

/// One parsed `filter=` expression.
#[derive(Debug, Clone)]
pub struct AttrFilter {
    key: String,
    op: Op,
}

#[derive(Debug, Clone)]
enum Op {
    Exists,
    Absent,
    Eq(Literal),
    Ne(Literal),
    Matches(Regex),
    NotMatches(Regex),
    Compare(Ordering, f64),
}

/// A value to compare against, parsed once rather than per span.
#[derive(Debug, Clone)]
struct Literal {
    text: String,
    int: Option<i64>,
    number: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ordering {
    Greater,
    GreaterOrEqual,
    Less,
    LessOrEqual,
}

/// A filter that could not be parsed; the message names it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid filter `{filter}`: {reason}")]
pub struct FilterError {
    pub filter: String,
    pub reason: String,
}

impl AttrFilter {
    pub fn parse(expression: &str) -> Result<AttrFilter, FilterError> {
        let fail = |reason: &str| FilterError {
            filter: expression.to_owned(),
            reason: reason.to_owned(),
        };
        if expression.chars().count() > MAX_FILTER_CHARS {
            return Err(fail("longer than 1024 characters"));
        }
        let text = expression.trim();
        if text.is_empty() {
            return Err(fail(
                "empty; expected key=value, key=~regex, key>n, key or !key",
            ));
        }
        let Some(op_start) = text.find(['=', '!', '<', '>', '~']) else {
            return Ok(AttrFilter {
                key: text.to_owned(),
                op: Op::Exists,
            });
        };
        if op_start == 0 {
            if let Some(key) = text.strip_prefix('!') {
                let key = key.trim();
                if key.is_empty() || key.contains(['=', '!', '<', '>', '~']) {
                    return Err(fail(
                        "`!` goes only before a bare key (`!key` means the key is absent)",
                    ));
                }
                return Ok(AttrFilter {
                    key: key.to_owned(),
                    op: Op::Absent,
                });
            }
            return Err(fail("missing the key before the operator"));
        }
        let key = text[..op_start].trim();
        if key.contains(char::is_whitespace) {
            return Err(fail("the key contains a space"));
        }
        let rest = &text[op_start..];
        let (operator, value) = ["!=", "!~", "=~", ">=", "<=", "=", ">", "<"]
            .iter()
            .find_map(|operator| rest.strip_prefix(operator).map(|value| (*operator, value)))
            .ok_or_else(|| fail("unknown operator; use = != =~ !~ > >= < <="))?;
        let value = value.trim();
        let op = match operator {
            "=" => Op::Eq(Literal::new(value)),
            "!=" => Op::Ne(Literal::new(value)),
            "=~" => Op::Matches(compile(value).map_err(|reason| fail(&reason))?),
            "!~" => Op::NotMatches(compile(value).map_err(|reason| fail(&reason))?),
            _ => {
                let number = value
                    .parse::<f64>()
                    .ok()
                    .filter(|number| number.is_finite())
                    .ok_or_else(|| fail(&format!("`{value}` is not a number")))?;
                let ordering = match operator {
                    ">" => Ordering::Greater,
                    ">=" => Ordering::GreaterOrEqual,
                    "<" => Ordering::Less,
                    _ => Ordering::LessOrEqual,
                };
                Op::Compare(ordering, number)
            }
        };
        Ok(AttrFilter {
            key: key.to_owned(),
            op,
        })
    }

    /// Whether `span` meets this filter.
    pub fn matches(&self, span: &impl SpanFields) -> bool {
        match &self.op {
            Op::Exists => self.any_value(span, &mut |_| true),
            Op::Absent => !self.any_value(span, &mut |_| true),
            Op::Eq(literal) => self.any_value(span, &mut |value| literal.equals(value)),
            Op::Ne(literal) => {
                let mut present = false;
                let equal = self.any_value(span, &mut |value| {
                    present = true;
                    literal.equals(value)
                });
                present && !equal
            }
            Op::Matches(regex) => self.any_value(span, &mut |value| {
                value.with_text(|text| regex.is_match(text))
            }),
            Op::NotMatches(regex) => {
                let mut present = false;
                let matched = self.any_value(span, &mut |value| {
                    present = true;
                    value.with_text(|text| regex.is_match(text))
                });
                present && !matched
            }
            Op::Compare(ordering, bound) => self.any_value(span, &mut |value| {
                value.as_number().is_some_and(|number| match ordering {
                    Ordering::Greater => number > *bound,
                    Ordering::GreaterOrEqual => number >= *bound,
                    Ordering::Less => number < *bound,
                    Ordering::LessOrEqual => number <= *bound,
                })
            }),
        }
    }

    /// The block-filter terms (`model::search_terms`) of which a block must hold at
    /// least one to have a span this filter matches, as a Jaeger tag has; `None`
    /// when the filter can't rule blocks out (negations, regexes, ranges, and
    /// presence of a synthetic key, which has no key term).
    ///
    /// Every way `matches` can succeed must be covered, or a search would skip a
    /// block with a match: equality compares strings exactly, integers by value and
    /// doubles by value, so the literal's text, its canonical integer and its
    /// canonical double are all terms; synthetic tags hash their shown value too.
    pub fn required_terms(&self) -> Option<Vec<u64>> {
        let key = self.key.strip_prefix("resource.").unwrap_or(&self.key);
        match &self.op {
            Op::Eq(literal) => {
                let mut terms = query_terms(&self.key, &literal.text);
                if let Some(number) = literal.number {
                    terms.push(term(key, &number.to_string()));
                    if number == 0.0 {
                        // -0.0 == 0.0, but they are written differently.
                        terms.push(term(key, &(-number).to_string()));
                    }
                }
                terms.sort_unstable();
                terms.dedup();
                Some(terms)
            }
            Op::Exists if !is_synthetic(&self.key) => Some(vec![key_term(key)]),
            _ => None,
        }
    }

    /// Calls `test` with every value the key has on `span`, until one passes.
    fn any_value(
        &self,
        span: &impl SpanFields,
        test: &mut dyn FnMut(ValueRef<'_>) -> bool,
    ) -> bool {
        let key = self.key.as_str();
        if let Some(resource_key) = key.strip_prefix("resource.") {
            return any_attribute_in(&span.resource().attributes, resource_key, test);
        }
        if let Some(value) = synthetic(span, key) {
            if test(value) {
                return true;
            }
        }
        span.any_attribute(key, test)
            || any_attribute_in(&span.resource().attributes, key, test)
            || any_attribute_in(&span.scope().attributes, key, test)
    }
}

/// Keys `synthetic` answers for; they have value terms but no key term.
fn is_synthetic(key: &str) -> bool {
    matches!(
        key,
        "error"
            | "span.kind"
            | "otel.status_code"
            | "otel.status_description"
            | "otel.scope.name"
            | "scope.name"
            | "otel.scope.version"
            | "scope.version"
            | "w3c.tracestate"
            | "service.name"
    )
}

/// The tags the OTLP → Jaeger translation adds, as the span shows them in Jaeger's UI.
fn synthetic<'s>(span: &'s impl SpanFields, key: &str) -> Option<ValueRef<'s>> {
    let text = |text: &'s str| (!text.is_empty()).then_some(ValueRef::Str(text));
    match key {
        "error" => span.is_error().then_some(ValueRef::Bool(true)),
        "span.kind" => text(span.kind().jaeger_name()),
        "otel.status_code" => match span.status_code() {
            StatusCode::Ok => Some(ValueRef::Str("OK")),
            StatusCode::Error => Some(ValueRef::Str("ERROR")),
            StatusCode::Unset => None,
        },
        "otel.status_description" => text(span.status_message()),
        "otel.scope.name" | "scope.name" => text(&span.scope().name),
        "otel.scope.version" | "scope.version" => text(&span.scope().version),
        "w3c.tracestate" => text(span.trace_state()),
        "service.name" => text(span.service_name()),
        _ => None,
    }
}

fn compile(pattern: &str) -> Result<Regex, String> {
    RegexBuilder::new(pattern)
        .size_limit(MAX_REGEX_BYTES)
        .dfa_size_limit(MAX_REGEX_DFA_BYTES)
        .build()
        .map_err(|error| match error {
            regex::Error::CompiledTooBig(limit) => {
                format!("the regular expression is too large (over {limit} bytes compiled)")
            }
            other => format!("bad regular expression: {other}"),
        })
}

impl Literal {
    fn new(text: &str) -> Literal {
        Literal {
            text: text.to_owned(),
            int: text.parse::<i64>().ok(),
            number: text.parse::<f64>().ok().filter(|number| number.is_finite()),
        }
    }

    fn equals(&self, value: ValueRef<'_>) -> bool {
        match value {
            ValueRef::Str(text) => text == self.text,
            ValueRef::Bool(value) => self.text == if value { "true" } else { "false" },
            ValueRef::Int(value) => self.int == Some(value),
            ValueRef::Double(value) => self.number == Some(value),
            ValueRef::Other(_) => value.with_text(|text| text == self.text),
        }
    }
}

#[cfg(test)]
mod tests;
