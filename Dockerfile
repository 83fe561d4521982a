# One image for the API and the worker (the compose command picks the entrypoint).
# GPU workers build on a CUDA base (docker-compose profile "gpu"): Node 20 is copied in from the
# official image and @tensorflow/tfjs-node-gpu is installed on top.
# Not built on the development machines (no Docker engine there); `docker-compose config` validates the compose file.
ARG BASE_IMAGE=node:20-bookworm-slim
FROM node:20-bookworm-slim AS node

FROM ${BASE_IMAGE}
ARG WITH_GPU=0
COPY --from=node /usr/local/bin/node /usr/local/bin/node
COPY --from=node /usr/local/lib/node_modules /usr/local/lib/node_modules
COPY --from=node /usr/local/include/node /usr/local/include/node
# OpenBLAS + a compiler for the optional native linear-algebra addon (core/cca/native.ts)
RUN apt-get update \
 && apt-get install -y --no-install-recommends libopenblas-dev g++ make python3 \
 && rm -rf /var/lib/apt/lists/*
RUN ln -sf ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
 && ln -sf ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx
WORKDIR /app
ENV CHECKPOINT_DISABLE=1 ONNXRUNTIME_NODE_INSTALL=skip
COPY package.json package-lock.json .npmrc ./
COPY prisma ./prisma
RUN npm ci --ignore-scripts \
 && if [ "$WITH_GPU" = "1" ]; then npm install --no-save @tensorflow/tfjs-node-gpu@4.22.0; fi
COPY . .
# the addon build is optional: without it the JS/onnxruntime path is used (one notice line)
RUN npx prisma generate && node scripts/build-native.mjs
EXPOSE 8080
CMD ["npm", "run", "start:api"]
