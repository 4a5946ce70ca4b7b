//! Hand-written SQL with numbered binds, for the queries the DSL cannot express on both
//! backends at once (dynamic filters, full-text search, bitwise masks).
//!
//! Placeholders are written `$1, $2, …` in order: PostgreSQL reads them natively, and SQLite
//! reads `$NAME` parameters and numbers them by first appearance, which is the same order.

use std::fmt::Write;

use diesel::query_builder::{BoxedSqlQuery, SqlQuery};
use diesel::sql_types::{BigInt, Double, Nullable, Text};
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
}

impl Sql {
    pub fn new(text: &str) -> Self {
        Sql {
            text: text.to_string(),
            binds: Vec::new(),
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
        let _ = write!(self.text, "${}", self.binds.len());
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

    pub fn text(&self) -> &str {
        &self.text
    }

    fn query(&self) -> BoxedSqlQuery<'static, MultiBackend, SqlQuery> {
        let mut q = diesel::sql_query(self.text.clone()).into_boxed::<MultiBackend>();
        for b in &self.binds {
            q = match b.clone() {
                Value::Text(v) => q.bind::<Nullable<Text>, _>(v),
                Value::Int(v) => q.bind::<Nullable<BigInt>, _>(v),
                Value::Float(v) => q.bind::<Nullable<Double>, _>(v),
            };
        }
        q
    }

    pub fn load<T>(&self, conn: &mut DbConnection) -> QueryResult<Vec<T>>
    where
        T: QueryableByName<MultiBackend> + 'static,
    {
        self.query().load(conn)
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
        self.query().execute(conn)
    }
}

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
        let i = Sql::insert("t", vec![("a", "x".into()), ("b", 1i64.into())]);
        assert_eq!(i.text(), "INSERT INTO t (a, b) VALUES ($1, $2)");
    }
}
