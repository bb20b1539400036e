//! `noyau jupyter install`: the kernelspec `noyau` (kernel.json and two logos) where Jupyter looks for kernels.
//!
//! The logos are drawn here rather than shipped as files: the kernel density of points drawing an N,
//! through the inferno colormap of the plotting code, which is what Noyau computes.

use anyhow::{bail, Context as _};
use noyau_scripting::plot::colormap::Colormap;
use noyau_scripting::plot::output::encode_png;
use std::path::{Path, PathBuf};

/// The kernel's name: its folder under `kernels/`, and what `--kernel noyau` selects.
pub const KERNEL_NAME: &str = "noyau";

/// Where to install: the user's data folder, the active Python environment, or a prefix.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    User,
    SysPrefix,
    Prefix(PathBuf),
}

impl Target {
    /// `[--user | --sys-prefix | --prefix P]`; no option means `--user`.
    pub fn from_args(args: &[&str]) -> anyhow::Result<Target> {
        match args {
            [] | ["--user"] => Ok(Target::User),
            ["--sys-prefix"] => Ok(Target::SysPrefix),
            ["--prefix", p] => Ok(Target::Prefix(PathBuf::from(p))),
            _ => bail!("usage: noyau jupyter install [--user | --sys-prefix | --prefix PATH]"),
        }
    }

    /// The `kernels/` folder of this target, as Jupyter's own paths define it.
    pub fn kernels_dir(&self) -> anyhow::Result<PathBuf> {
        let env = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
        let data = match self {
            Target::Prefix(p) => p.join("share/jupyter"),
            Target::SysPrefix => env("VIRTUAL_ENV")
                .or_else(|| env("CONDA_PREFIX"))
                .context(
                    "--sys-prefix needs an active Python environment (VIRTUAL_ENV or CONDA_PREFIX); use --prefix PATH",
                )?
                .join("share/jupyter"),
            Target::User => match env("JUPYTER_DATA_DIR") {
                Some(d) => d,
                None => user_data_dir().context("cannot find the home folder; use --prefix PATH")?,
            },
        };
        Ok(data.join("kernels"))
    }
}

/// Jupyter's per-user data folder on this platform.
fn user_data_dir() -> Option<PathBuf> {
    let env = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    if cfg!(windows) {
        return env("APPDATA").map(|a| a.join("jupyter"));
    }
    let home = env("HOME")?;
    if cfg!(target_os = "macos") {
        return Some(home.join("Library/Jupyter"));
    }
    Some(env("XDG_DATA_HOME").unwrap_or_else(|| home.join(".local/share")).join("jupyter"))
}

/// The kernel.json that starts `exe` as the kernel.
pub fn kernel_json(exe: &Path) -> serde_json::Value {
    serde_json::json!({
        "argv": [exe.to_string_lossy(), "kernel", "--connection-file", "{connection_file}"],
        "display_name": "Noyau (Rhai)",
        "language": "rhai",
        // Interrupts come as control messages, so that a cell stops without killing the kernel.
        "interrupt_mode": "message",
        "metadata": {"debugger": false},
    })
}

/// Writes the kernelspec for `exe` into the target and returns its folder.
pub fn install(target: &Target, exe: &Path) -> anyhow::Result<PathBuf> {
    let dir = target.kernels_dir()?.join(KERNEL_NAME);
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let json = serde_json::to_string_pretty(&kernel_json(exe))?;
    std::fs::write(dir.join("kernel.json"), json + "\n")
        .with_context(|| format!("cannot write in {}", dir.display()))?;
    for size in [32, 64] {
        let png = logo(size).map_err(anyhow::Error::msg)?;
        std::fs::write(dir.join(format!("logo-{size}x{size}.png")), png)?;
    }
    Ok(dir)
}

/// A `size`×`size` PNG: the Gaussian kernel density of points drawing an N, coloured by inferno.
pub fn logo(size: u32) -> Result<Vec<u8>, String> {
    const POINTS: [(f64, f64); 9] = [
        (0.24, 0.8),
        (0.24, 0.5),
        (0.24, 0.2),
        (0.37, 0.35),
        (0.5, 0.5),
        (0.63, 0.65),
        (0.76, 0.8),
        (0.76, 0.5),
        (0.76, 0.2),
    ];
    let sigma2 = 2.0 * 0.07f64.powi(2);
    let mut rgb = Vec::with_capacity((size * size * 3) as usize);
    for row in 0..size {
        for col in 0..size {
            let (x, y) = ((col as f64 + 0.5) / size as f64, (row as f64 + 0.5) / size as f64);
            let density: f64 =
                POINTS.iter().map(|(px, py)| (-((x - px).powi(2) + (y - py).powi(2)) / sigma2).exp()).sum();
            let c = Colormap::Inferno.at(density / 1.3);
            rgb.extend_from_slice(&[c.r, c.g, c.b]);
        }
    }
    encode_png(&rgb, size, size)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_and_the_spec() {
        assert_eq!(Target::from_args(&[]).unwrap(), Target::User);
        assert_eq!(
            Target::from_args(&["--prefix", "/p"]).unwrap().kernels_dir().unwrap(),
            PathBuf::from("/p/share/jupyter/kernels")
        );
        assert!(Target::from_args(&["--bogus"]).is_err());
        let spec = kernel_json(Path::new("/bin/noyau"));
        assert_eq!(spec["argv"], serde_json::json!(["/bin/noyau", "kernel", "--connection-file", "{connection_file}"]));
        assert_eq!((spec["display_name"].as_str(), spec["language"].as_str()), (Some("Noyau (Rhai)"), Some("rhai")));
        assert_eq!(spec["interrupt_mode"], "message");
    }

    #[test]
    fn logos_are_pngs_of_their_size() {
        let png = logo(32).unwrap();
        assert_eq!(&png[1..4], b"PNG");
        // The IHDR chunk holds the width and height, big-endian, at bytes 16..24.
        assert_eq!(u32::from_be_bytes(png[16..20].try_into().unwrap()), 32);
        assert_eq!(u32::from_be_bytes(png[20..24].try_into().unwrap()), 32);
    }
}
