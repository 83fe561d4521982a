-- How each recorded layer became a [samples, features] matrix (issue 13): 'none' for a dense layer,
-- else the conv reduction ('positions', 'mean', 'flatten', 'pool') and its description in words.
-- Additive: layers of earlier experiments keep NULL (not recorded).
ALTER TABLE "Layer" ADD COLUMN "reduction" TEXT;
ALTER TABLE "Layer" ADD COLUMN "reductionDetail" TEXT;
