-- The key that minted a share link: the link's requests count against that key's rate-limit budget.
-- AlterTable
ALTER TABLE "Share" ADD COLUMN     "keyId" UUID;

-- AddForeignKey
ALTER TABLE "Share" ADD CONSTRAINT "Share_keyId_fkey" FOREIGN KEY ("keyId") REFERENCES "ApiKey"("id") ON DELETE SET NULL ON UPDATE CASCADE;
