//! Reading and writing the PNG files of a comparison, with errors naming the file.

use std::io::Cursor;
use std::path::{Path, PathBuf};

use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use image::{ImageEncoder, ImageFormat, ImageReader, Limits, RgbaImage};

/// The largest side of an image read, in pixels (a full-page shot of `max_height` 100000 fits).
pub const MAX_SIDE: u32 = 100_000;
/// The most memory one decoded image may take.
const MAX_BYTES: u64 = 2 << 30;

/// A PNG that could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum PngError {
    /// The file could not be read.
    #[error("{}: cannot read it: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The bytes are not a PNG image, or a damaged one.
    #[error("{}: not a valid PNG image: {reason}", path.display())]
    Decode {
        /// The file.
        path: PathBuf,
        /// What the decoder said.
        reason: String,
    },
    /// The image could not be encoded or written.
    #[error("{}: cannot write it: {reason}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

/// Reads a PNG file into RGBA pixels.
pub fn read(path: &Path) -> Result<RgbaImage, PngError> {
    let bytes = std::fs::read(path).map_err(|source| PngError::Read { path: path.to_path_buf(), source })?;
    decode(&bytes, path)
}

/// Decodes PNG bytes (`path` names them in errors).
pub fn decode(bytes: &[u8], path: &Path) -> Result<RgbaImage, PngError> {
    let error = |reason: String| PngError::Decode { path: path.to_path_buf(), reason };
    if !bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        let what =
            if bytes.is_empty() { "the file is empty".to_string() } else { "no PNG signature".to_string() };
        return Err(error(what));
    }
    let mut reader = ImageReader::with_format(Cursor::new(bytes), ImageFormat::Png);
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_BYTES);
    reader.limits(limits);
    let image = reader.decode().map_err(|e| error(e.to_string()))?;
    Ok(image.into_rgba8())
}

/// Encodes RGBA pixels as a PNG, favouring speed over size.
pub fn encode(image: &RgbaImage) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(image.as_raw().len() / 8);
    PngEncoder::new_with_quality(&mut out, CompressionType::Fast, FilterType::Adaptive)
        .write_image(image.as_raw(), image.width(), image.height(), image::ExtendedColorType::Rgba8)
        .map_err(|e| e.to_string())?;
    Ok(out)
}

/// Writes RGBA pixels to a PNG file.
pub fn write(path: &Path, image: &RgbaImage) -> Result<(), PngError> {
    let error = |reason: String| PngError::Write { path: path.to_path_buf(), reason };
    let bytes = encode(image).map_err(error)?;
    std::fs::write(path, bytes).map_err(|e| error(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_clear_errors() {
        let img = RgbaImage::from_pixel(3, 2, image::Rgba([1, 2, 3, 255]));
        let bytes = encode(&img).unwrap();
        assert_eq!(decode(&bytes, Path::new("a.png")).unwrap(), img);
        let empty = decode(b"", Path::new("b.png")).unwrap_err().to_string();
        assert_eq!(empty, "b.png: not a valid PNG image: the file is empty");
        let cut = decode(&bytes[..bytes.len() / 2], Path::new("c.png")).unwrap_err().to_string();
        assert!(cut.starts_with("c.png: not a valid PNG image: "), "{cut}");
        let missing = read(Path::new("/nonexistent/d.png")).unwrap_err().to_string();
        assert!(missing.starts_with("/nonexistent/d.png: cannot read it: "), "{missing}");
    }
}
