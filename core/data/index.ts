// Public surface of the data sets module (no TensorFlow.js).
export { type Dataset, DatasetError, type DatasetErrorCode, imageSize, subset } from './dataset.ts';
export { CIFAR10_CLASSES, DATASETS, type DatasetInfo, type DatasetName, type Split } from './info.ts';
export {
  type DatasetPaths,
  type DatasetProgress,
  FASHION_MNIST_DEBIAN_DIR,
  type LoadOptions,
  loadDataset,
} from './load.ts';
