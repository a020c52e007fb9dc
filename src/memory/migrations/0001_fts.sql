-- Full-text index over memories.content (FTS5, BM25), external content keyed by memories.seq.
CREATE VIRTUAL TABLE `memory_fts` USING fts5(content, content='memories', content_rowid='seq', tokenize='unicode61 remove_diacritics 2');
--> statement-breakpoint
CREATE TRIGGER `memories_fts_insert` AFTER INSERT ON `memories` BEGIN
  INSERT INTO memory_fts(rowid, content) VALUES (new.seq, new.content);
END;
--> statement-breakpoint
CREATE TRIGGER `memories_fts_delete` AFTER DELETE ON `memories` BEGIN
  INSERT INTO memory_fts(memory_fts, rowid, content) VALUES ('delete', old.seq, old.content);
END;
--> statement-breakpoint
CREATE TRIGGER `memories_fts_update` AFTER UPDATE OF content ON `memories` BEGIN
  INSERT INTO memory_fts(memory_fts, rowid, content) VALUES ('delete', old.seq, old.content);
  INSERT INTO memory_fts(rowid, content) VALUES (new.seq, new.content);
END;
