use crate::{Context, exit, output};

pub fn run(ctx: &Context) -> anyhow::Result<()> {
    let table: Vec<_> = exit::TABLE
        .iter()
        .map(|(code, meaning)| serde_json::json!({ "code": code, "meaning": meaning }))
        .collect();
    output::emit(ctx.json, &table, || {
        exit::TABLE
            .iter()
            .map(|(code, meaning)| format!("{code:>4}  {meaning}"))
            .collect::<Vec<_>>()
            .join("\n")
    })
}
