-- Recovery contacts from `Steadycart.identify(email, consent)` (issues 9
-- and 12). An identify gives consent before anything went wrong, so the
-- email it queues is only sent once its session ran into trouble (and
-- never if it did not); a survey answer is itself the abandonment.
-- `source` tells the mailer which rule applies: 'survey' | 'identify'.
ALTER TABLE recovery_outbox ADD COLUMN source TEXT NOT NULL DEFAULT 'survey';
