-- Experiments on uploaded activations wait in this state until POST /v1/experiments/:id/complete.
-- AlterEnum
ALTER TYPE "ExperimentStatus" ADD VALUE 'awaiting_representations' BEFORE 'queued';
