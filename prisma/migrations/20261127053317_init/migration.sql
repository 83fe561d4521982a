-- CreateEnum
CREATE TYPE "KeyRole" AS ENUM ('admin', 'member');

-- CreateEnum
CREATE TYPE "RunStatus" AS ENUM ('pending', 'running', 'done', 'failed');

-- CreateEnum
CREATE TYPE "ExperimentStatus" AS ENUM ('queued', 'training', 'capturing', 'computing', 'succeeded', 'failed', 'canceled');

-- CreateEnum
CREATE TYPE "Network" AS ENUM ('reference', 'specimen');

-- CreateTable
CREATE TABLE "Team" (
    "id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Team_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ApiKey" (
    "id" UUID NOT NULL,
    "teamId" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "prefix" TEXT NOT NULL,
    "hash" BYTEA NOT NULL,
    "role" "KeyRole" NOT NULL DEFAULT 'member',
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "revokedAt" TIMESTAMP(3),
    "lastUsedAt" TIMESTAMP(3),

    CONSTRAINT "ApiKey_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Run" (
    "id" UUID NOT NULL,
    "key" TEXT NOT NULL,
    "spec" JSONB NOT NULL,
    "status" "RunStatus" NOT NULL DEFAULT 'pending',
    "backend" TEXT,
    "layers" JSONB,
    "seconds" DOUBLE PRECISION,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "finishedAt" TIMESTAMP(3),

    CONSTRAINT "Run_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Checkpoint" (
    "id" UUID NOT NULL,
    "runId" UUID NOT NULL,
    "index" INTEGER NOT NULL,
    "step" INTEGER NOT NULL,
    "fraction" DOUBLE PRECISION NOT NULL,
    "trainLoss" DOUBLE PRECISION,
    "trainAccuracy" DOUBLE PRECISION,
    "probeLoss" DOUBLE PRECISION,
    "probeAccuracy" DOUBLE PRECISION,

    CONSTRAINT "Checkpoint_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Experiment" (
    "id" UUID NOT NULL,
    "teamId" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "spec" JSONB NOT NULL,
    "specHash" TEXT NOT NULL,
    "idempotencyKey" TEXT,
    "status" "ExperimentStatus" NOT NULL DEFAULT 'queued',
    "progress" DOUBLE PRECISION NOT NULL DEFAULT 0,
    "message" TEXT NOT NULL DEFAULT '',
    "etaSeconds" DOUBLE PRECISION,
    "referenceRunId" UUID,
    "specimenRunId" UUID,
    "checkpointCount" INTEGER NOT NULL DEFAULT 0,
    "estimate" JSONB,
    "summary" JSONB,
    "backend" TEXT,
    "errorCode" TEXT,
    "errorMessage" TEXT,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,
    "queuedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "trainingAt" TIMESTAMP(3),
    "capturingAt" TIMESTAMP(3),
    "computingAt" TIMESTAMP(3),
    "finishedAt" TIMESTAMP(3),
    "cancelRequested" BOOLEAN NOT NULL DEFAULT false,

    CONSTRAINT "Experiment_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Layer" (
    "experimentId" UUID NOT NULL,
    "network" "Network" NOT NULL,
    "index" INTEGER NOT NULL,
    "name" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "features" INTEGER NOT NULL,
    "samples" INTEGER NOT NULL,

    CONSTRAINT "Layer_pkey" PRIMARY KEY ("experimentId","network","index")
);

-- CreateTable
CREATE TABLE "Cell" (
    "experimentId" UUID NOT NULL,
    "refLayer" INTEGER NOT NULL,
    "specLayer" INTEGER NOT NULL,
    "checkpoint" INTEGER NOT NULL,
    "rho" DOUBLE PRECISION NOT NULL,
    "mean" DOUBLE PRECISION NOT NULL,
    "svcca" DOUBLE PRECISION,
    "pwcca" DOUBLE PRECISION,
    "cka" DOUBLE PRECISION,
    "rankRef" INTEGER NOT NULL,
    "rankSpec" INTEGER NOT NULL,
    "coefficients" BYTEA NOT NULL,

    CONSTRAINT "Cell_pkey" PRIMARY KEY ("experimentId","refLayer","specLayer","checkpoint")
);

-- CreateTable
CREATE TABLE "Share" (
    "id" UUID NOT NULL,
    "experimentId" UUID NOT NULL,
    "tokenHash" BYTEA NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "revokedAt" TIMESTAMP(3),

    CONSTRAINT "Share_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "Team_name_key" ON "Team"("name");

-- CreateIndex
CREATE UNIQUE INDEX "ApiKey_prefix_key" ON "ApiKey"("prefix");

-- CreateIndex
CREATE INDEX "ApiKey_teamId_idx" ON "ApiKey"("teamId");

-- CreateIndex
CREATE UNIQUE INDEX "Run_key_key" ON "Run"("key");

-- CreateIndex
CREATE UNIQUE INDEX "Checkpoint_runId_index_key" ON "Checkpoint"("runId", "index");

-- CreateIndex
CREATE INDEX "Experiment_teamId_createdAt_idx" ON "Experiment"("teamId", "createdAt");

-- CreateIndex
CREATE INDEX "Experiment_status_idx" ON "Experiment"("status");

-- CreateIndex
CREATE UNIQUE INDEX "Experiment_teamId_idempotencyKey_key" ON "Experiment"("teamId", "idempotencyKey");

-- CreateIndex
CREATE INDEX "Cell_experimentId_checkpoint_idx" ON "Cell"("experimentId", "checkpoint");

-- CreateIndex
CREATE UNIQUE INDEX "Share_tokenHash_key" ON "Share"("tokenHash");

-- CreateIndex
CREATE INDEX "Share_experimentId_idx" ON "Share"("experimentId");

-- AddForeignKey
ALTER TABLE "ApiKey" ADD CONSTRAINT "ApiKey_teamId_fkey" FOREIGN KEY ("teamId") REFERENCES "Team"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Checkpoint" ADD CONSTRAINT "Checkpoint_runId_fkey" FOREIGN KEY ("runId") REFERENCES "Run"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Experiment" ADD CONSTRAINT "Experiment_teamId_fkey" FOREIGN KEY ("teamId") REFERENCES "Team"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Experiment" ADD CONSTRAINT "Experiment_referenceRunId_fkey" FOREIGN KEY ("referenceRunId") REFERENCES "Run"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Experiment" ADD CONSTRAINT "Experiment_specimenRunId_fkey" FOREIGN KEY ("specimenRunId") REFERENCES "Run"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Layer" ADD CONSTRAINT "Layer_experimentId_fkey" FOREIGN KEY ("experimentId") REFERENCES "Experiment"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Cell" ADD CONSTRAINT "Cell_experimentId_fkey" FOREIGN KEY ("experimentId") REFERENCES "Experiment"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Share" ADD CONSTRAINT "Share_experimentId_fkey" FOREIGN KEY ("experimentId") REFERENCES "Experiment"("id") ON DELETE CASCADE ON UPDATE CASCADE;
