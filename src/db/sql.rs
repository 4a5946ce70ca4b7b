//! Hand-written SQL with numbered binds, for the queries the DSL cannot express on both
//! backends at once (dynamic filters, full-text search, bitwise masks).
//!
//! Placeholders are written `$1, $2, …` in order, which is how `text()` reads; when the
//! statement runs, each becomes the backend's own placeholder (`$N` or `?`) in the same order.

use std::fmt::Write;

use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{BigInt, Double, Nullable, Text, Untyped};
use diesel::{QueryResult, QueryableByName, RunQueryDsl};

use super::{DbConnection, MultiBackend};

/// A bind value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Text(Option<String>),
    Int(Option<i64>),
    Float(Option<f64>),
}

impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(Some(v))
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(Some(v.to_string()))
    }
}
impl From<&String> for Value {
    fn from(v: &String) -> Self {
        Value::Text(Some(v.clone()))
    }
}
impl From<Option<String>> for Value {
    fn from(v: Option<String>) -> Self {
        Value::Text(v)
    }
}
impl From<Option<&str>> for Value {
    fn from(v: Option<&str>) -> Self {
        Value::Text(v.map(str::to_string))
    }
}
impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(Some(v))
    }
}
impl From<Option<i64>> for Value {
    fn from(v: Option<i64>) -> Self {
        Value::Int(v)
    }
}
impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Float(Some(v))
    }
}
impl From<Option<f64>> for Value {
    fn from(v: Option<f64>) -> Self {
        Value::Float(v)
    }
}

/// A statement under construction: text plus its binds.
#[derive(Debug, Clone, Default)]
pub struct Sql {
    text: String,
    binds: Vec<Value>,
    /// Where each bind's `$N` is in `text`, for backends that number differently.
    marks: Vec<(usize, usize)>,
    prepared: bool,
}

impl Sql {
    pub fn new(text: &str) -> Self {
        Sql {
            text: text.to_string(),
            binds: Vec::new(),
            marks: Vec::new(),
            prepared: false,
        }
    }

    /// A statement whose text is the same on every call (only its bind values vary), kept
    /// prepared by the connection, so it is not parsed again (a bulk import runs dozens per
    /// service). Statements built with a varying shape (filters, `IN` lists) must not use
    /// this, or every shape would be kept.
    pub fn prepared(text: &str) -> Self {
        Sql {
            prepared: true,
            ..Sql::new(text)
        }
    }

    /// `INSERT INTO table (a, b, …) VALUES ($1, $2, …)`.
    pub fn insert(table: &str, columns: Vec<(&str, Value)>) -> Self {
        let names: Vec<&str> = columns.iter().map(|(n, _)| *n).collect();
        let mut q = Sql::new(&format!(
            "INSERT INTO {table} ({}) VALUES ",
            names.join(", ")
        ));
        q.bind_list(columns.into_iter().map(|(_, v)| v));
        q
    }

    pub fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Appends a placeholder for `value`.
    pub fn bind(&mut self, value: impl Into<Value>) -> &mut Self {
        self.binds.push(value.into());
        let start = self.text.len();
        let _ = write!(self.text, "${}", self.binds.len());
        self.marks.push((start, self.text.len()));
        self
    }

    /// Appends `($1, $2, …)`; an empty list becomes `(NULL)`, which matches nothing.
    pub fn bind_list<V: Into<Value>>(&mut self, values: impl IntoIterator<Item = V>) -> &mut Self {
        self.text.push('(');
        let mut first = true;
        for v in values {
            if !first {
                self.text.push_str(", ");
            }
            first = false;
            self.bind(v);
        }
        if first {
            self.text.push_str("NULL");
        }
        self.text.push(')');
        self
    }

    /// Appends a list of exactly `width` placeholders holding `values` (at most `width`, at
    /// least one), the last repeated to fill it: `IN` ignores the repeats, and the statement
    /// text stays the same for any count, so a `prepared` statement is parsed once.
    pub fn bind_padded_list<V: Into<Value> + Clone>(
        &mut self,
        values: &[V],
        width: usize,
    ) -> &mut Self {
        assert!(
            !values.is_empty() && values.len() <= width,
            "a padded list holds 1 to {width} values"
        );
        let last = &values[values.len() - 1];
        let padded = values.iter().chain(std::iter::repeat(last)).take(width);
        self.bind_list(padded.cloned())
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn load<T>(&self, conn: &mut DbConnection) -> QueryResult<Vec<T>>
    where
        T: QueryableByName<MultiBackend> + 'static,
    {
        RunQueryDsl::load(self, conn)
    }

    /// The number a `SELECT COUNT(*) AS n ...` statement answers.
    pub fn count(&self, conn: &mut DbConnection) -> QueryResult<i64> {
        #[derive(QueryableByName)]
        struct Count {
            #[diesel(sql_type = BigInt)]
            n: i64,
        }
        Ok(self.load::<Count>(conn)?.pop().map_or(0, |c| c.n))
    }

    pub fn execute(&self, conn: &mut DbConnection) -> QueryResult<usize> {
        RunQueryDsl::execute(self, conn)
    }
}

// What diesel's `sql_query` does, except that a `prepared` statement may be cached: diesel
// keys its statement cache by the SQL text when a query has no static id and does not call
// `unsafe_to_cache_prepared`.
impl QueryFragment<MultiBackend> for Sql {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, MultiBackend>) -> QueryResult<()> {
        if !self.prepared {
            out.unsafe_to_cache_prepared();
        }
        // Each `$N` is replaced by the backend's own placeholder, in the same order.
        let mut from = 0;
        for (b, &(start, end)) in self.binds.iter().zip(&self.marks) {
            out.push_sql(&self.text[from..start]);
            match b {
                Value::Text(v) => out.push_bind_param::<Nullable<Text>, _>(v)?,
                Value::Int(v) => out.push_bind_param::<Nullable<BigInt>, _>(v)?,
                Value::Float(v) => out.push_bind_param::<Nullable<Double>, _>(v)?,
            }
            from = end;
        }
        out.push_sql(&self.text[from..]);
        Ok(())
    }
}

impl QueryId for Sql {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl Query for Sql {
    type SqlType = Untyped;
}

impl RunQueryDsl<DbConnection> for &Sql {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_in_order() {
        let mut s = Sql::new("SELECT 1 WHERE a = ");
        s.bind("x").push(" AND b IN ").bind_list([1i64, 2]);
        assert_eq!(s.text(), "SELECT 1 WHERE a = $1 AND b IN ($2, $3)");
        let mut e = Sql::new("x IN ");
        e.bind_list(Vec::<i64>::new());
        assert_eq!(e.text(), "x IN (NULL)");
        let mut p = Sql::prepared("x IN ");
        p.bind_padded_list(&[7i64, 8], 4);
        assert_eq!(p.text(), "x IN ($1, $2, $3, $4)");
        assert_eq!(p.binds, [7i64, 8, 8, 8].map(Value::from));
        let i = Sql::insert("t", vec![("a", "x".into()), ("b", 1i64.into())]);
        assert_eq!(i.text(), "INSERT INTO t (a, b) VALUES ($1, $2)");
    }
}
