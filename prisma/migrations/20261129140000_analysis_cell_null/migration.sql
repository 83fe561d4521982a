-- Each cell's permutation null and adjusted score (issue 13). Additive: cells computed before have
-- NULL in both columns and are analysed on rho alone.
ALTER TABLE "Cell" ADD COLUMN "rhoNull" DOUBLE PRECISION;
ALTER TABLE "Cell" ADD COLUMN "rhoAdjusted" DOUBLE PRECISION;
