//! Versioned migrations, applied in order inside one transaction each; `PRAGMA user_version` records
//! how far a file has come.

use rusqlite::Connection;

const MIGRATIONS: &[&str] = &[
    // 1: lectures, revisions, segments, chunks, embeddings, trigram FTS.
    r#"
    CREATE TABLE lectures (
        id            INTEGER PRIMARY KEY,
        course        TEXT,
        title         TEXT NOT NULL,
        date          TEXT,
        speaker       TEXT,
        file_name     TEXT NOT NULL,
        format        TEXT NOT NULL,
        encoding      TEXT NOT NULL,
        source_sha256 TEXT NOT NULL UNIQUE,
        created_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
    );
    CREATE INDEX lectures_course ON lectures(course);

    CREATE TABLE revisions (
        id          INTEGER PRIMARY KEY,
        lecture_id  INTEGER NOT NULL REFERENCES lectures(id) ON DELETE RESTRICT,
        number      INTEGER NOT NULL,
        parent_id   INTEGER REFERENCES revisions(id) ON DELETE RESTRICT,
        kind        TEXT NOT NULL,
        message     TEXT,
        text        TEXT NOT NULL,
        text_sha256 TEXT NOT NULL,
        created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
        UNIQUE (lecture_id, number)
    );
    -- Revisions are history: never rewritten, never deleted.
    CREATE TRIGGER revisions_immutable BEFORE UPDATE ON revisions
        BEGIN SELECT RAISE(ABORT, 'revisions are immutable'); END;
    CREATE TRIGGER revisions_kept BEFORE DELETE ON revisions
        BEGIN SELECT RAISE(ABORT, 'revisions are never deleted'); END;

    CREATE TABLE segments (
        revision_id INTEGER NOT NULL REFERENCES revisions(id),
        ord         INTEGER NOT NULL,
        start_char  INTEGER NOT NULL,
        end_char    INTEGER NOT NULL,
        start_ms    INTEGER,
        end_ms      INTEGER,
        PRIMARY KEY (revision_id, ord)
    ) WITHOUT ROWID;

    -- One chunking of one revision with one strategy for one embedding model.
    CREATE TABLE chunk_sets (
        id          INTEGER PRIMARY KEY,
        revision_id INTEGER NOT NULL REFERENCES revisions(id),
        strategy    TEXT NOT NULL,
        model       TEXT NOT NULL,
        created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
        UNIQUE (revision_id, strategy, model)
    );

    CREATE TABLE chunks (
        id            INTEGER PRIMARY KEY,
        chunk_set_id  INTEGER NOT NULL REFERENCES chunk_sets(id) ON DELETE CASCADE,
        ord           INTEGER NOT NULL,
        match_start   INTEGER NOT NULL,
        match_end     INTEGER NOT NULL,
        context_start INTEGER NOT NULL,
        context_end   INTEGER NOT NULL,
        text          TEXT NOT NULL,
        text_sha256   TEXT NOT NULL,
        UNIQUE (chunk_set_id, ord)
    );

    -- Keyed by content, so an edited revision re-embeds only the chunks whose text is new.
    CREATE TABLE embeddings (
        model       TEXT NOT NULL,
        text_sha256 TEXT NOT NULL,
        dims        INTEGER NOT NULL,
        vector      BLOB NOT NULL,
        PRIMARY KEY (model, text_sha256)
    ) WITHOUT ROWID;

    CREATE VIRTUAL TABLE chunks_fts USING fts5(
        text, content='chunks', content_rowid='id', tokenize='trigram'
    );
    CREATE TRIGGER chunks_fts_insert AFTER INSERT ON chunks BEGIN
        INSERT INTO chunks_fts(rowid, text) VALUES (new.id, new.text);
    END;
    CREATE TRIGGER chunks_fts_delete AFTER DELETE ON chunks BEGIN
        INSERT INTO chunks_fts(chunks_fts, rowid, text) VALUES ('delete', old.id, old.text);
    END;
    "#,
    // 2: full-text search over what a chunk hands to the model (its context window), not only the
    // part it matches: a sentence window is scored by the words of the whole window. `substr` counts
    // code points, as the offsets do.
    r#"
    DROP TRIGGER chunks_fts_insert;
    DROP TRIGGER chunks_fts_delete;
    DROP TABLE chunks_fts;
    ALTER TABLE chunks ADD COLUMN context_text TEXT NOT NULL DEFAULT '';
    UPDATE chunks SET context_text = (
        SELECT substr(r.text, chunks.context_start + 1, chunks.context_end - chunks.context_start)
        FROM chunk_sets s JOIN revisions r ON r.id = s.revision_id
        WHERE s.id = chunks.chunk_set_id
    );
    CREATE VIRTUAL TABLE chunks_fts USING fts5(
        context_text, content='chunks', content_rowid='id', tokenize='trigram'
    );
    INSERT INTO chunks_fts(chunks_fts) VALUES ('rebuild');
    CREATE TRIGGER chunks_fts_insert AFTER INSERT ON chunks BEGIN
        INSERT INTO chunks_fts(rowid, context_text) VALUES (new.id, new.context_text);
    END;
    CREATE TRIGGER chunks_fts_delete AFTER DELETE ON chunks BEGIN
        INSERT INTO chunks_fts(chunks_fts, rowid, context_text) VALUES ('delete', old.id, old.context_text);
    END;
    "#,
    // 3: term statistics of the full-text index, so a query can leave out trigrams that occur almost
    // everywhere (they add nothing to BM25 but cost the most to evaluate).
    r#"
    CREATE VIRTUAL TABLE chunks_fts_vocab USING fts5vocab(chunks_fts, row);
    "#,
    // 4: the correction workflow — per-course glossaries, and cached language-model scans.
    r#"
    CREATE TABLE glossary (
        id         INTEGER PRIMARY KEY,
        course     TEXT NOT NULL DEFAULT '',
        term       TEXT NOT NULL,
        variants   TEXT NOT NULL DEFAULT '[]',
        note       TEXT,
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
        UNIQUE (course, term)
    );
    CREATE TABLE scans (
        revision_id INTEGER NOT NULL REFERENCES revisions(id),
        model       TEXT NOT NULL,
        params      TEXT NOT NULL,
        result      TEXT NOT NULL,
        created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
        PRIMARY KEY (revision_id, model, params)
    ) WITHOUT ROWID;
    "#,
    // 5: unsaved edits, kept while a person types so that a crash or a closed window loses nothing.
    r#"
    CREATE TABLE drafts (
        lecture_id  INTEGER PRIMARY KEY REFERENCES lectures(id),
        parent_id   INTEGER NOT NULL REFERENCES revisions(id),
        text        TEXT NOT NULL,
        updated_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
    );
    "#,
    // 6: keyword search by words and readings (`retrieval::words`). `words_by` names the analysis
    // that produced a chunk's tokens; NULL (every chunk stored before) is analysed on next use.
    // Every chunk has a row in the index from its insert on, so updates can always delete the old one.
    r#"
    ALTER TABLE chunks ADD COLUMN words TEXT;
    ALTER TABLE chunks ADD COLUMN readings TEXT;
    ALTER TABLE chunks ADD COLUMN words_by TEXT;
    CREATE INDEX chunks_words_by ON chunks(words_by);
    CREATE VIRTUAL TABLE chunks_words USING fts5(
        words, readings, content='chunks', content_rowid='id', tokenize='unicode61 remove_diacritics 0'
    );
    INSERT INTO chunks_words(chunks_words) VALUES ('rebuild');
    CREATE TRIGGER chunks_words_insert AFTER INSERT ON chunks BEGIN
        INSERT INTO chunks_words(rowid, words, readings) VALUES (new.id, coalesce(new.words, ''), coalesce(new.readings, ''));
    END;
    CREATE TRIGGER chunks_words_update AFTER UPDATE OF words, readings ON chunks BEGIN
        INSERT INTO chunks_words(chunks_words, rowid, words, readings) VALUES ('delete', old.id, coalesce(old.words, ''), coalesce(old.readings, ''));
        INSERT INTO chunks_words(rowid, words, readings) VALUES (new.id, coalesce(new.words, ''), coalesce(new.readings, ''));
    END;
    CREATE TRIGGER chunks_words_delete AFTER DELETE ON chunks BEGIN
        INSERT INTO chunks_words(chunks_words, rowid, words, readings) VALUES ('delete', old.id, coalesce(old.words, ''), coalesce(old.readings, ''));
    END;
    -- Term statistics (document frequencies) of the word index, and every reading it has held:
    -- a question's readings are compared with these to find the ones a sound away.
    CREATE VIRTUAL TABLE chunks_words_vocab USING fts5vocab(chunks_words, row);
    CREATE TABLE reading_terms (reading TEXT PRIMARY KEY) WITHOUT ROWID;
    "#,
    // 7: a lecture's recording, kept in the media folder beside the database (`recording`).
    r#"
    CREATE TABLE recordings (
        lecture_id    INTEGER PRIMARY KEY REFERENCES lectures(id) ON DELETE CASCADE,
        file          TEXT NOT NULL,
        original_name TEXT NOT NULL,
        sha256        TEXT NOT NULL,
        bytes         INTEGER NOT NULL,
        duration_ms   INTEGER,
        added_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
    );
    "#,
];

pub const CURRENT_VERSION: i64 = MIGRATIONS.len() as i64;

pub fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    let newer = |version: i64| {
        rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_MISMATCH),
            Some(format!(
                "the database was written by a newer kogi (schema {version}, this one knows {CURRENT_VERSION}) — update kogi"
            )),
        )
    };
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version > CURRENT_VERSION {
        return Err(newer(version));
    }
    if version == CURRENT_VERSION {
        return Ok(());
    }
    // Each step reads the version inside its own write transaction: two processes (or the app's
    // start-up work and a command) opening a new database at once never apply a step twice.
    loop {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if version >= CURRENT_VERSION {
            tx.commit()?;
            return if version > CURRENT_VERSION { Err(newer(version)) } else { Ok(()) };
        }
        tx.execute_batch(MIGRATIONS[version as usize])?;
        tx.pragma_update(None, "user_version", version + 1)?;
        tx.commit()?;
        tracing::info!(version = version + 1, "database migrated");
    }
}
