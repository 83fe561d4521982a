{
  "targets": [
    {
      "target_name": "repdyn_linalg",
      "sources": ["linalg.c"],
      "cflags": ["-O3", "-std=c11", "-Wall", "-Wextra"],
      "libraries": ["-lopenblas"]
    }
  ]
}
