"""EXIF orientation of JPEG bytes in TensorFlow ops, for the SavedModel's
``colorize_image`` signature: ``tf.io.decode_image`` ignores it, while
``kcolor colorize`` (Pillow, ``kcolor.imageio``) shows a phone photo upright.

``jpeg_orientation`` walks the JPEG's marker segments up to the first APP1
``Exif`` block, reads its TIFF header (``II`` or ``MM``) and IFD0, and returns
tag 0x0112. Anything unexpected (not a JPEG, no EXIF, a garbled or truncated
block, a value outside 1-8) gives 1: the pixels as stored, as
``kcolor.imageio`` does with EXIF data it cannot parse. Only JPEG is read
(PNG and WebP may carry EXIF too, rarely; XMP orientation is not read).
"""

SCAN_BYTES = 1 << 18  # the EXIF block must start in the first 256 KiB
MAX_SEGMENTS = 32  # marker segments looked at before the EXIF block
MAX_ENTRIES = 256  # IFD0 entries looked at
ORIENTATION_TAG = 0x0112


def jpeg_orientation(data):
    """EXIF orientation (int32 scalar, 1-8) of encoded image bytes (a string scalar)."""
    import tensorflow as tf

    b = tf.cast(tf.io.decode_raw(tf.strings.substr(data, 0, SCAN_BYTES), tf.uint8), tf.int64)
    n = tf.size(b, out_type=tf.int64)
    b = tf.concat([b, [0]], 0)  # b[n] = 0: what every position outside the bytes reads

    def at(i):  # the bytes at int64 positions i
        return tf.gather(b, tf.where((i >= 0) & (i < n), i, n))

    def cond(k, pos, tiff):
        return (k < MAX_SEGMENTS) & (tiff < 0) & (pos + 10 <= n)

    def body(k, pos, tiff):
        marker = at(pos + 1)
        length = at(pos + 2) * 256 + at(pos + 3)
        exif = tf.reduce_all(tf.equal(at(pos + 4 + tf.range(6, dtype=tf.int64)),
                                      [0x45, 0x78, 0x69, 0x66, 0, 0]))  # "Exif\0\0"
        fill = marker == 0xFF  # a fill byte before a marker: no length
        stop = ((at(pos) != 0xFF) | (marker == 0xDA) | (marker == 0xD9)  # no marker, scan, end
                | (~fill & (length < 2)))
        found = (marker == 0xE1) & exif & ~stop
        nxt = tf.where(stop, n, tf.where(fill, pos + 1, pos + 2 + length))
        return k + 1, nxt, tf.where(found, pos + 10, tiff)

    is_jpeg = (at(tf.constant(0, tf.int64)) == 0xFF) & (at(tf.constant(1, tf.int64)) == 0xD8)
    _, _, tiff = tf.while_loop(cond, body, [tf.constant(0), tf.constant(2, tf.int64),
                                            tf.constant(-1, tf.int64)])
    little = (at(tiff) == 0x49) & (at(tiff + 1) == 0x49)  # "II"
    big = (at(tiff) == 0x4D) & (at(tiff + 1) == 0x4D)  # "MM"

    def u16(i):
        return tf.where(little, at(i) + at(i + 1) * 256, at(i) * 256 + at(i + 1))

    def u32(i):
        return tf.where(little, u16(i) + u16(i + 2) * 65536, u16(i) * 65536 + u16(i + 2))

    ifd = tiff + u32(tiff + 4)
    count = u16(ifd)
    j = tf.range(MAX_ENTRIES, dtype=tf.int64)
    entry = ifd + 2 + 12 * j
    kind = u16(entry + 2)
    value = tf.where(kind == 4, u32(entry + 8), u16(entry + 8))  # SHORT, or LONG
    hit = (j < count) & (entry + 12 <= n) & (u16(entry) == ORIENTATION_TAG) & (
        (kind == 3) | (kind == 4))
    first = tf.argmax(tf.cast(hit, tf.int32), output_type=tf.int64)
    orientation = tf.where(tf.reduce_any(hit), tf.gather(value, first), 1)
    ok = (is_jpeg & (tiff >= 0) & (little | big) & (u16(tiff + 2) == 42)
          & (orientation >= 1) & (orientation <= 8))
    return tf.cast(tf.where(ok, orientation, 1), tf.int32)


def apply_orientation(rgb, orientation):
    """[H, W, C] image shown upright for EXIF ``orientation`` (1-8), as
    Pillow's ``ImageOps.exif_transpose``: [W, H, C] for 5-8."""
    import tensorflow as tf

    def t():
        return tf.transpose(rgb, [1, 0, 2])

    return tf.switch_case(orientation - 1, [
        lambda: rgb,  # 1: as stored
        lambda: tf.reverse(rgb, [1]),  # 2: mirrored
        lambda: tf.reverse(rgb, [0, 1]),  # 3: rotated 180
        lambda: tf.reverse(rgb, [0]),  # 4: flipped
        t,  # 5: transposed
        lambda: tf.reverse(t(), [1]),  # 6: rotated 90 clockwise
        lambda: tf.reverse(t(), [0, 1]),  # 7: transversed
        lambda: tf.reverse(t(), [0]),  # 8: rotated 90 counter-clockwise
    ])


def upright(rgb, data):
    """``rgb`` decoded from ``data`` shown upright (EXIF orientation of a JPEG)."""
    return apply_orientation(rgb, jpeg_orientation(data))
