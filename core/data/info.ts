// Static facts about the supported data sets: no file access, so spec validation can use them.

export type DatasetName = 'mnist' | 'fashion-mnist' | 'cifar10';
export type Split = 'train' | 'test';

export interface DatasetInfo {
  /** Image shape [height, width, channels]. */
  shape: [number, number, number];
  classes: number;
  counts: Record<Split, number>;
  /**
   * Per-channel mean and standard deviation of the training pixels scaled to [0, 1] (published
   * constants). Loaded pixels are (p/255 - mean) / std, the same for every split and subset.
   */
  mean: number[];
  std: number[];
}

export const DATASETS: Record<DatasetName, DatasetInfo> = {
  mnist: {
    shape: [28, 28, 1],
    classes: 10,
    counts: { train: 60000, test: 10000 },
    mean: [0.1307],
    std: [0.3081],
  },
  'fashion-mnist': {
    shape: [28, 28, 1],
    classes: 10,
    counts: { train: 60000, test: 10000 },
    mean: [0.286],
    std: [0.353],
  },
  cifar10: {
    shape: [32, 32, 3],
    classes: 10,
    counts: { train: 50000, test: 10000 },
    mean: [0.4914, 0.4822, 0.4465],
    std: [0.247, 0.2435, 0.2616],
  },
};

/** CIFAR-10 class names in the official label order 0-9 (also the JPEG archive's folder names). */
export const CIFAR10_CLASSES = [
  'airplane',
  'automobile',
  'bird',
  'cat',
  'deer',
  'dog',
  'frog',
  'horse',
  'ship',
  'truck',
] as const;
