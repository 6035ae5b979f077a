/* detector.h — the object detector of docs/detector.md (CenterNet: a convnet that gives
 * a class heatmap and box offsets per cell, and the peak decoding that turns them into
 * boxes). */
#ifndef CAPT_DETECTOR_H
#define CAPT_DETECTOR_H

#include "capt.h"
#include "convnet.h"
#include "preprocess.h"

enum { DETECTOR_HEATMAP, DETECTOR_BOXES };

typedef struct capt_detector {
    capt_convnet *net;       /* outputs: heatmap [h, w, classes] and boxes [h, w, 4] (left, top,
                              * right, bottom distances in input pixels) */
    int heatmap_logits;      /* 1: the heatmap holds logits, a peak's score is their sigmoid */
    preprocess pre;
    int stride;              /* input pixels per heatmap cell */
    int classes;
    int max_detections;      /* at most this many peaks are reported */
    const capt_meta *labels; /* string[classes] */
} capt_detector;

/* Reads a detector ("detector.type" "centernet") from the file. */
capt_status capt_detector_load(const capt_file *file, capt_detector **out, capt_error *err);
void capt_detector_free(capt_detector *det);

/* The peaks of the heatmap with score >= min_score, decoded to boxes in 0..1 image units
 * (clipped), most confident first (ties: lower cell, then lower class), at most
 * det->max_detections into out; returns their count. */
int capt_detector_decode(const capt_detector *det, const float *heatmap, const float *boxes, float min_score,
                         capt_detection *out);

#endif
