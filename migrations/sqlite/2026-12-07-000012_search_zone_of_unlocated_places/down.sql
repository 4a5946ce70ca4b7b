-- The zones are right under the earlier schema too: nothing to undo.
SELECT 1;
