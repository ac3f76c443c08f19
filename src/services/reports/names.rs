//! What a person reads instead of a raw subject id: a merchant's display name, a product's
//! name from its merchant's catalogue, a creator's nickname. One function, shared by the
//! leaderboard, the progress lists, the reports, the digests and the emails.

use std::collections::HashMap;

use entity::{creator, merchant};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect, Value};

use crate::{domain::program::Subject, services::products};

/// A product subject's id is `<merchant id>:<product id>`.
pub fn split_product(subject_id: &str) -> Option<(i64, &str)> {
    let (m, p) = subject_id.split_once(':')?;
    Some((m.parse().ok()?, p))
}

/// The names of these subjects, by subject id; one without a name (a product missing from
/// its merchant's catalogue) is absent.
pub async fn subject_names<C: ConnectionTrait>(
    db: &C,
    subjects: &[(Subject, &str)],
) -> Result<HashMap<String, String>, DbErr> {
    let mut out = HashMap::new();
    let merchants: Vec<i64> = subjects
        .iter()
        .filter(|(t, _)| *t == Subject::Merchant)
        .filter_map(|(_, id)| id.parse().ok())
        .collect();
    for chunk in merchants.chunks(500) {
        let rows: Vec<(i64, String)> = merchant::Entity::find()
            .select_only()
            .column(merchant::Column::Id)
            .column(merchant::Column::DisplayName)
            .filter(merchant::Column::Id.is_in(chunk.iter().copied()))
            .into_tuple()
            .all(db)
            .await?;
        out.extend(rows.into_iter().map(|(id, n)| (id.to_string(), n)));
    }
    let creators: Vec<&str> = subjects
        .iter()
        .filter(|(t, _)| *t == Subject::Creator)
        .map(|(_, id)| *id)
        .collect();
    for chunk in creators.chunks(500) {
        let rows: Vec<(String, String)> = creator::Entity::find()
            .select_only()
            .column(creator::Column::Id)
            .column(creator::Column::Nickname)
            .filter(creator::Column::Id.is_in(chunk.iter().copied()))
            .into_tuple()
            .all(db)
            .await?;
        out.extend(rows);
    }
    let keys: Vec<(i64, &str)> = subjects
        .iter()
        .filter(|(t, _)| *t == Subject::Product)
        .filter_map(|(_, id)| split_product(id))
        .collect();
    for ((m, p), n) in products::names(db, &keys).await? {
        out.insert(format!("{m}:{p}"), n);
    }
    Ok(out)
}

/// [`subject_names`] inside a query over `progress p`, so a page of progress is read with its
/// names in one statement: the joins to write after `FROM progress p` (three placeholders,
/// bound by [`name_join_values`]) and the expression [`NAME`] that reads the name from them.
/// A product's id past `{merchant_id}:` is matched to the catalogue by the pair's index.
pub const NAME_JOINS: &str = "\
    LEFT JOIN merchant nm ON p.subject_type = ? AND nm.id = p.merchant_id \
    LEFT JOIN creator nc ON p.subject_type = ? AND nc.id = p.subject_id \
    LEFT JOIN product np ON p.subject_type = ? AND np.merchant_id = p.merchant_id \
      AND np.product_id = SUBSTR(p.subject_id, LENGTH(CAST(p.merchant_id AS TEXT)) + 2)";

/// The subject's name, from [`NAME_JOINS`]; NULL for a product missing from the catalogue.
pub const NAME: &str = "COALESCE(nm.display_name, nc.nickname, np.name)";

/// The values of [`NAME_JOINS`]' placeholders, in order.
pub fn name_join_values() -> [Value; 3] {
    [
        Subject::Merchant.as_str().into(),
        Subject::Creator.as_str().into(),
        Subject::Product.as_str().into(),
    ]
}

/// The name to show for one subject: its name, else (an unnamed product) the product id, else
/// the raw id.
pub fn label(names: &HashMap<String, String>, subject: Subject, subject_id: &str) -> String {
    if let Some(n) = names.get(subject_id) {
        return n.clone();
    }
    match subject {
        Subject::Product => split_product(subject_id).map_or(subject_id, |(_, p)| p),
        _ => subject_id,
    }
    .to_string()
}
