//! Chat models as a person meets them: whether one can read the lecture's language, and (in
//! `convert`) bringing the model file or folder they already have into kogi's layout.

pub mod convert;
pub mod fit;

pub use fit::{LanguageFit, language_fit};
