//! The one place that knows the account tables.

use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::sql_types::{Nullable, Text};
use diesel::QueryableByName;
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::{DbConnection, Sql};
use crate::error::ApiError;

/// A user, as the API shows it (never the hash).
#[derive(Debug, Clone, PartialEq, Serialize, QueryableByName, ToSchema)]
pub struct User {
    #[diesel(sql_type = Text)]
    pub id: String,
    #[diesel(sql_type = Nullable<Text>)]
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub organization_id: Option<String>,
    #[diesel(sql_type = Text)]
    pub email: String,
    /// `org_admin` or `staff` (`admin` for the platform).
    #[diesel(sql_type = Text)]
    pub role: String,
    #[diesel(sql_type = Text)]
    pub created_at: String,
}

#[derive(QueryableByName)]
pub struct Credentials {
    #[diesel(sql_type = Text)]
    pub id: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub organization_id: Option<String>,
    #[diesel(sql_type = Text)]
    pub role: String,
    #[diesel(sql_type = Text)]
    pub hash: String,
    /// Space-separated scopes, for API clients.
    #[diesel(sql_type = Text)]
    pub scopes: String,
}

/// An API client, as the API shows it (never the secret or its hash).
#[derive(Debug, Clone, PartialEq, Serialize, QueryableByName, ToSchema)]
pub struct ApiClient {
    #[diesel(sql_type = Text)]
    pub client_id: String,
    #[diesel(sql_type = Text)]
    pub organization_id: String,
    #[diesel(sql_type = Text)]
    pub name: String,
    #[diesel(sql_type = Text)]
    #[serde(serialize_with = "split_scopes")]
    #[schema(value_type = Vec<String>)]
    pub scopes: String,
    #[diesel(sql_type = Text)]
    pub created_at: String,
}

fn split_scopes<S: serde::Serializer>(scopes: &str, s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(scopes.split_whitespace())
}

fn now() -> String {
    crate::search::filters::stored_timestamp(chrono::Utc::now())
}

fn conflict_on_duplicate(e: DieselError, what: &str) -> ApiError {
    match e {
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => {
            ApiError::Conflict(format!("{what} already exists"))
        }
        other => other.into(),
    }
}

pub fn organization_exists(conn: &mut DbConnection, id: &str) -> Result<bool, ApiError> {
    #[derive(QueryableByName)]
    struct Id {
        #[diesel(sql_type = Text)]
        #[allow(dead_code)]
        id: String,
    }
    let mut q = Sql::new("SELECT id FROM organization WHERE id = ");
    q.bind(id);
    Ok(!q.load::<Id>(conn)?.is_empty())
}

pub fn create_user(
    conn: &mut DbConnection,
    organization_id: Option<&str>,
    email: &str,
    password_hash: &str,
    role: &str,
) -> Result<User, ApiError> {
    let user = User {
        id: uuid::Uuid::new_v4().to_string(),
        organization_id: organization_id.map(str::to_string),
        email: email.to_lowercase(),
        role: role.to_string(),
        created_at: now(),
    };
    let mut q = Sql::new(
        "INSERT INTO app_user (id, organization_id, email, password_hash, role, created_at) VALUES (",
    );
    q.bind(&user.id)
        .push(", ")
        .bind(user.organization_id.clone())
        .push(", ")
        .bind(&user.email)
        .push(", ")
        .bind(password_hash)
        .push(", ")
        .bind(&user.role)
        .push(", ")
        .bind(&user.created_at)
        .push(")");
    q.execute(conn)
        .map_err(|e| conflict_on_duplicate(e, "an account with that email"))?;
    Ok(user)
}

pub fn user_credentials(
    conn: &mut DbConnection,
    email: &str,
) -> Result<Option<Credentials>, ApiError> {
    let mut q = Sql::new(
        "SELECT id, organization_id, role, password_hash AS hash, '' AS scopes FROM app_user WHERE email = ",
    );
    q.bind(email.to_lowercase());
    Ok(q.load::<Credentials>(conn)?.pop())
}

pub fn users(conn: &mut DbConnection, organization_id: &str) -> Result<Vec<User>, ApiError> {
    let mut q = Sql::new(
        "SELECT id, organization_id, email, role, created_at FROM app_user WHERE organization_id = ",
    );
    q.bind(organization_id).push(" ORDER BY email");
    Ok(q.load::<User>(conn)?)
}

pub fn delete_user(
    conn: &mut DbConnection,
    organization_id: &str,
    id: &str,
) -> Result<bool, ApiError> {
    let mut q = Sql::new("DELETE FROM app_user WHERE organization_id = ");
    q.bind(organization_id).push(" AND id = ").bind(id);
    Ok(q.execute(conn)? > 0)
}

pub fn create_client(
    conn: &mut DbConnection,
    organization_id: &str,
    name: &str,
    scopes: &[String],
    secret_hash: &str,
) -> Result<ApiClient, ApiError> {
    let client = ApiClient {
        client_id: uuid::Uuid::new_v4().to_string(),
        organization_id: organization_id.to_string(),
        name: name.to_string(),
        scopes: scopes.join(" "),
        created_at: now(),
    };
    let mut q = Sql::new(
        "INSERT INTO api_client (id, organization_id, name, secret_hash, scopes, created_at) VALUES (",
    );
    q.bind(&client.client_id)
        .push(", ")
        .bind(&client.organization_id)
        .push(", ")
        .bind(&client.name)
        .push(", ")
        .bind(secret_hash)
        .push(", ")
        .bind(&client.scopes)
        .push(", ")
        .bind(&client.created_at)
        .push(")");
    q.execute(conn)?;
    Ok(client)
}

pub fn client_credentials(
    conn: &mut DbConnection,
    client_id: &str,
) -> Result<Option<Credentials>, ApiError> {
    let mut q = Sql::new(
        "SELECT id, organization_id, 'api_client' AS role, secret_hash AS hash, scopes FROM api_client WHERE id = ",
    );
    q.bind(client_id);
    Ok(q.load::<Credentials>(conn)?.pop())
}

pub fn clients(conn: &mut DbConnection, organization_id: &str) -> Result<Vec<ApiClient>, ApiError> {
    let mut q = Sql::new(
        "SELECT id AS client_id, organization_id, name, scopes, created_at FROM api_client WHERE organization_id = ",
    );
    q.bind(organization_id).push(" ORDER BY name, id");
    Ok(q.load::<ApiClient>(conn)?)
}

pub fn delete_client(
    conn: &mut DbConnection,
    organization_id: &str,
    id: &str,
) -> Result<bool, ApiError> {
    let mut q = Sql::new("DELETE FROM api_client WHERE organization_id = ");
    q.bind(organization_id).push(" AND id = ").bind(id);
    Ok(q.execute(conn)? > 0)
}

/// Removes every user and API client of an organisation (when the organisation goes).
pub fn delete_organization_accounts(
    conn: &mut DbConnection,
    organization_id: &str,
) -> Result<(), ApiError> {
    for table in ["app_user", "api_client"] {
        let mut q = Sql::new(&format!("DELETE FROM {table} WHERE organization_id = "));
        q.bind(organization_id);
        q.execute(conn)?;
    }
    Ok(())
}
